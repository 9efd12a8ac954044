"""The point-in-time tables of one as-of day and the intermediate frames several families share.

Every frame is lazy; a frame used by several families is the same LazyFrame object, so
polars computes it once (common subplan elimination) when the snapshot is collected.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from functools import cached_property

import polars as pl

from features.dates import month_number, month_of, month_start
from features.pit import active_sponsors, conform_all, filings_as_of, known_as_of
from sponsorwatch.thresholds import with_threshold_in_force

#: Months of payroll history any feature looks at (36 for cohorts, one more to see who
#: was already there when a cohort window opens).
LOOKBACK_MONTHS = 37

#: A migrant whose last paid month is this many months before T has left even if the
#: sponsor filed nothing since (filing lags are one to two months).
STALE_MONTHS = 3


class Context:
    """Point-in-time inputs of one snapshot and the frames shared between families."""

    def __init__(self, tables: Mapping[str, pl.LazyFrame], as_of: dt.date,
                 thresholds: pl.DataFrame) -> None:
        self.as_of = as_of
        self.month = month_number(as_of)
        self.thresholds = thresholds
        first_period = month_start(self.month - LOOKBACK_MONTHS)
        complete = conform_all(tables)
        # Filings are replaced per period, so dropping old periods first changes nothing
        # and spares the latest-filing selection most of the history.
        for name in ("payroll", "workforce"):
            complete[name] = complete[name].filter(pl.col("period") >= first_period)
        self.filings = {name: filings_as_of(complete[name], as_of)
                        for name in ("payroll", "workforce")}
        self.known = known_as_of(complete, as_of)

    def since(self, months: int) -> pl.Expr:
        """True for rows whose ``month`` lies in the last ``months`` months up to T's."""
        return pl.col("month") > self.month - months

    @cached_property
    def sponsors(self) -> pl.LazyFrame:
        """Active sponsors on T with their profile columns."""
        return active_sponsors(self.known["sponsors"])

    @cached_property
    def permits(self) -> pl.LazyFrame:
        """Known applications with their terms' start (validity, else submission)."""
        return self.known["permits"].with_columns(
            pl.coalesce("valid_from", "submitted_on").alias("terms_from"))

    @cached_property
    def payroll(self) -> pl.LazyFrame:
        """Latest known wage per migrant and month, with ``month`` as a number."""
        return self.known["payroll"].with_columns(month_of("period").alias("month"))

    @cached_property
    def paid(self) -> pl.LazyFrame:
        """Payroll of the last 24 months with the permit terms and threshold of the month.

        A wage paid in month M is held against the threshold in force in M for the scheme
        of the permit whose terms had started by M (the earliest one, if none had).
        """
        terms = (self.permits
                 .select("sponsor_id", "person_key", "terms_from", "scheme",
                         "declared_monthly_salary", "declared_weekly_hours")
                 .sort("terms_from"))
        first_terms = (terms.group_by("sponsor_id", "person_key").first()
                       .rename({c: f"{c}_first" for c in ("scheme", "declared_monthly_salary",
                                                            "declared_weekly_hours")})
                       .drop("terms_from"))
        recent = self.payroll.filter(self.since(24)).sort("period")
        joined = (recent.join_asof(terms, left_on="period", right_on="terms_from",
                                   by=["sponsor_id", "person_key"], strategy="backward",
                                   check_sortedness=False)
                  .join(first_terms, on=["sponsor_id", "person_key"], how="left")
                  .with_columns(
                      *(pl.coalesce(c, f"{c}_first").alias(c)
                        for c in ("scheme", "declared_monthly_salary",
                                  "declared_weekly_hours")))
                  .drop("scheme_first", "declared_monthly_salary_first",
                        "declared_weekly_hours_first", "terms_from"))
        return with_threshold_in_force(joined, self.thresholds, "period").with_columns(
            (pl.col("gross_wage") / pl.col("threshold")).alias("threshold_ratio"),
            (pl.col("hours_paid") / (pl.col("declared_weekly_hours") * 52 / 12))
            .alias("contract_hours_ratio"),
        )

    @cached_property
    def workforce(self) -> pl.LazyFrame:
        """Latest known employer totals per month, with ``month`` as a number."""
        return self.known["workforce"].with_columns(month_of("period").alias("month"))

    @cached_property
    def latest_workforce(self) -> pl.LazyFrame:
        """Each sponsor's most recent known month of employer totals."""
        return (self.workforce.sort("month")
                .group_by("sponsor_id").last()
                .select("sponsor_id", pl.col("month").alias("workforce_month"),
                        pl.col("headcount").cast(pl.Float64)))

    @cached_property
    def stints(self) -> pl.LazyFrame:
        """One row per migrant and sponsor paid in the lookback window: first and last
        paid month, and whether they have left (the sponsor filed later months without
        them, or nothing was filed for them for :data:`STALE_MONTHS` months)."""
        per_person = self.payroll.group_by("sponsor_id", "person_key").agg(
            pl.col("month").min().alias("first_month"),
            pl.col("month").max().alias("last_month"),
        )
        return per_person.with_columns(
            pl.col("last_month").max().over("sponsor_id").alias("sponsor_last_month"),
        ).with_columns(
            ((pl.col("last_month") < pl.col("sponsor_last_month"))
             | (pl.col("last_month") <= self.month - STALE_MONTHS)).alias("gone"),
        )


def per_sponsor(ctx: Context, parts: list[pl.LazyFrame], names: list[str]) -> pl.LazyFrame:
    """Active sponsors with the columns ``names`` taken from per-sponsor ``parts``."""
    frame = ctx.sponsors.select("sponsor_id")
    for part in parts:
        frame = frame.join(part, on="sponsor_id", how="left")
    return frame.select("sponsor_id", *names)
