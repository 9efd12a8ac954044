"""Profile: age of the company and of its recognition, legal form, size and sector.

Sector is a switch (Settings.use_sector): it can stand in for who works where, so a
deployment may leave it out; its direction is 0 (no constraint either way).
"""

from __future__ import annotations

from collections.abc import Collection

import polars as pl

from features.context import Context, Part, per_sponsor
from features.dates import days_between
from features.spec import Feature
from sponsorwatch.contract import LEGAL_FORMS
from sponsorwatch.sbi import SBI_SECTION_STARTS

FAMILY = "profile"

DAYS_PER_YEAR = 365.25
SMALL_BUSINESS_FORMS = ("EENMANSZAAK", "VOF", "CV")
NOT_FOR_PROFIT_FORMS = ("STICHTING", "VERENIGING", "COOPERATIE")


FEATURES = (
    Feature("company_age_years", FAMILY, "Years since registration in the trade register",
            "years", -1),
    Feature("founding_to_recognition_years", FAMILY,
            "Years from registration in the trade register to recognition as sponsor",
            "years", -1),
    Feature("recognition_age_years", FAMILY, "Years since recognition as sponsor",
            "years", -1),
    Feature("legal_form_code", FAMILY,
            "Legal form as a code (position in the contract's list of legal forms)",
            "code", 0),
    Feature("legal_form_small_business", FAMILY,
            "1 for a sole trader or partnership (eenmanszaak, VOF, CV)", "flag", 0),
    Feature("legal_form_not_for_profit", FAMILY,
            "1 for a foundation, association or cooperative", "flag", 0),
    Feature("legal_form_foreign", FAMILY, "1 for a foreign legal entity", "flag", 0),
    Feature("log_headcount", FAMILY, "Natural log of 1 + employees on the latest payroll",
            "log count", -1),
    Feature("sector_division", FAMILY, "SBI 2008 division (first two digits of the code)",
            "code", 0, sector=True),
    Feature("sector_section", FAMILY, "SBI 2008 section as a number (A=1 .. U=21)",
            "code", 0, sector=True),
)

FEATURE_NAMES = tuple(f.name for f in FEATURES)


def _section(division: pl.Expr) -> pl.Expr:
    return pl.lit(0, dtype=pl.Int32) + sum(
        (division >= start).cast(pl.Int32) for start in SBI_SECTION_STARTS)


def _profile(ctx: Context) -> pl.LazyFrame:
    division = pl.col("sbi_code").str.slice(0, 2).cast(pl.Int32, strict=False)
    form = pl.col("legal_form")
    return (ctx.sponsors.join(ctx.latest_workforce, on="sponsor_id", how="left")
            .select(
                "sponsor_id",
                (days_between(pl.lit(ctx.as_of), "founded_on") / DAYS_PER_YEAR)
                .alias("company_age_years"),
                (days_between("recognised_on", "founded_on") / DAYS_PER_YEAR)
                .alias("founding_to_recognition_years"),
                (days_between(pl.lit(ctx.as_of), "recognised_on") / DAYS_PER_YEAR)
                .alias("recognition_age_years"),
                form.replace_strict(list(LEGAL_FORMS), list(range(len(LEGAL_FORMS))),
                                    default=None, return_dtype=pl.Float64)
                .alias("legal_form_code"),
                form.is_in(SMALL_BUSINESS_FORMS).cast(pl.Float64)
                .alias("legal_form_small_business"),
                form.is_in(NOT_FOR_PROFIT_FORMS).cast(pl.Float64)
                .alias("legal_form_not_for_profit"),
                (form == "FOREIGN_ENTITY").cast(pl.Float64).alias("legal_form_foreign"),
                pl.col("headcount").log1p().alias("log_headcount"),
                division.cast(pl.Float64).alias("sector_division"),
                _section(division).cast(pl.Float64).alias("sector_section"),
            ))


PARTS: tuple[Part, ...] = ((_profile, FEATURE_NAMES),)


def compute(ctx: Context, names: Collection[str] = FEATURE_NAMES) -> pl.LazyFrame:
    """Profile features of every active sponsor (those of ``names``)."""
    return per_sponsor(ctx, PARTS, names)
