"""Turnover: how fast migrants come and go, against the size of the workforce."""

from __future__ import annotations

from collections.abc import Collection

import polars as pl

from features.context import Context, Part, per_sponsor
from features.dates import month_of
from features.spec import Feature

FAMILY = "turnover"

FEATURES = (
    Feature("permits_12m_per_headcount", FAMILY,
            "Permit applications in the last 12 months per employee on the latest payroll",
            "per employee", 1),
    Feature("permits_36m_per_headcount", FAMILY,
            "Permit applications in the last 36 months per employee on the latest payroll",
            "per employee", 1),
    Feature("permits_36m", FAMILY, "Permit applications in the last 36 months",
            "count", 0, fill=0.0),
    Feature("permit_refusal_share_36m", FAMILY,
            "Share of applications decided in the last 36 months that were refused or withdrawn",
            "share", 1),
    Feature("early_leaver_share_6m", FAMILY,
            "Share of migrants starting in the last 36 months who left within 6 months",
            "share", 1),
    Feature("early_leaver_share_12m", FAMILY,
            "Share of migrants starting in the last 36 months who left within 12 months",
            "share", 1),
    Feature("tenure_median_months", FAMILY,
            "Median months since the permit terms of the migrants now on the payroll began",
            "months", -1),
    Feature("migrants_current", FAMILY, "Migrants on the sponsor's latest payroll month",
            "count", 0, fill=0.0),
    Feature("migrant_share_of_workforce", FAMILY,
            "Migrants paid in the latest month against the sponsor's headcount that month",
            "share", 1),
    Feature("migrant_growth_vs_workforce", FAMILY,
            "Log growth of migrants over 12 months minus log growth of the whole workforce",
            "log ratio", 1),
)

FEATURE_NAMES = tuple(f.name for f in FEATURES)


def _permit_counts(ctx: Context) -> pl.LazyFrame:
    submitted = month_of("submitted_on")
    decided = month_of("decided_on")
    in_decided_window = pl.col("decided_on").is_not_null() & (decided > ctx.month - 36)
    return ctx.permits.group_by("sponsor_id").agg(
        (submitted > ctx.month - 12).sum().cast(pl.Float64).alias("permits_12m"),
        (submitted > ctx.month - 36).sum().cast(pl.Float64).alias("permits_36m"),
        pl.col("decision").is_in(["REFUSED", "WITHDRAWN"]).filter(in_decided_window).mean()
        .alias("permit_refusal_share_36m"),
    )


def _early_leavers(ctx: Context) -> pl.LazyFrame:
    """Cohorts: migrants whose first paid month is in the last 36 months and long enough
    ago to have reached 6 (or 12) months; left early = gone after fewer months."""
    months_paid = pl.col("last_month") - pl.col("first_month") + 1
    started = pl.col("first_month") > ctx.month - 36

    def share(months: int) -> pl.Expr:
        cohort = started & (pl.col("first_month") <= ctx.month - months)
        return ((pl.col("gone") & (months_paid <= months)).filter(cohort).mean()
                .alias(f"early_leaver_share_{months}m"))

    return ctx.stints.group_by("sponsor_id").agg(share(6), share(12))


def _current(ctx: Context) -> pl.LazyFrame:
    """Migrants on the latest payroll month of each sponsor, with their tenure."""
    current = ctx.stints.filter(~pl.col("gone")).select("sponsor_id", "person_key")
    tenure_start = (ctx.permits.group_by("sponsor_id", "person_key")
                    .agg(pl.col("terms_from").min()))
    return (current.join(tenure_start, on=["sponsor_id", "person_key"], how="left")
            .group_by("sponsor_id")
            .agg(pl.len().cast(pl.Float64).alias("migrants_current"),
                 (ctx.month - month_of("terms_from")).cast(pl.Float64).median()
                 .alias("tenure_median_months")))


def _growth(ctx: Context) -> pl.LazyFrame:
    """Migrants and headcount in the latest workforce month and 12 months before it."""
    migrants = ctx.migrant_months.select("sponsor_id", pl.col("month").alias("workforce_month"),
                                         "migrants")
    now = (ctx.latest_workforce
           .join(migrants, on=["sponsor_id", "workforce_month"], how="left")
           .with_columns(pl.col("migrants").fill_null(0.0),
                         (pl.col("workforce_month") - 12).alias("month_before")))
    headcount_before = ctx.workforce.select(
        "sponsor_id", pl.col("month").alias("month_before"),
        pl.col("headcount").cast(pl.Float64).alias("headcount_before"))
    migrants_before = migrants.rename({"workforce_month": "month_before",
                                       "migrants": "migrants_before"})
    joined = (now.join(headcount_before, on=["sponsor_id", "month_before"], how="left")
              .join(migrants_before, on=["sponsor_id", "month_before"], how="left")
              .with_columns(pl.col("migrants_before").fill_null(0.0)))
    log_growth = (((pl.col("migrants") + 1) / (pl.col("migrants_before") + 1)).log()
                  - ((pl.col("headcount") + 1) / (pl.col("headcount_before") + 1)).log())
    return joined.select(
        "sponsor_id",
        pl.when(pl.col("headcount") > 0).then(pl.col("migrants") / pl.col("headcount"))
        .alias("migrant_share_of_workforce"),
        log_growth.alias("migrant_growth_vs_workforce"),
    )


def _counts(ctx: Context) -> pl.LazyFrame:
    headcount = pl.col("headcount").clip(lower_bound=1.0)
    return (_permit_counts(ctx)
            .join(ctx.latest_workforce, on="sponsor_id", how="full", coalesce=True)
            .with_columns(pl.col("permits_12m", "permits_36m").fill_null(0.0))
            .with_columns(
                (pl.col("permits_12m") / headcount).alias("permits_12m_per_headcount"),
                (pl.col("permits_36m") / headcount).alias("permits_36m_per_headcount")))


PARTS: tuple[Part, ...] = (
    (_counts, ("permits_12m_per_headcount", "permits_36m_per_headcount", "permits_36m",
               "permit_refusal_share_36m")),
    (_early_leavers, ("early_leaver_share_6m", "early_leaver_share_12m")),
    (_current, ("tenure_median_months", "migrants_current")),
    (_growth, ("migrant_share_of_workforce", "migrant_growth_vs_workforce")),
)


def compute(ctx: Context, names: Collection[str] = FEATURE_NAMES) -> pl.LazyFrame:
    """Turnover features per active sponsor (those of ``names``)."""
    return per_sponsor(ctx, PARTS, names)
