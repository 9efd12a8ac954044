"""Filing anomalies: late and corrected payroll filings, unpaid permit months, gaps in
the employer's totals, and migrant wages that do not fit those totals."""

from __future__ import annotations

from collections.abc import Collection

import polars as pl

from features.context import Context, Part, per_sponsor
from features.dates import month_of, month_start
from features.spec import Feature

FAMILY = "filing"

#: Months after the period's month by which a filing is on time (the payroll tax return
#: is due by the end of the following month).
DUE_MONTHS = 1
#: The employer's totals of the last this-many months may simply not have arrived yet.
FILING_LAG_MONTHS = 2

FEATURES = (
    Feature("late_filing_share", FAMILY,
            "Share of first payroll filings of the last 12 months filed after the month "
            "following the period", "share", 1),
    Feature("filing_delay_median_days", FAMILY,
            "Median days from the end of the period to its first payroll filing (12 months)",
            "days", 1),
    Feature("correction_share", FAMILY,
            "Corrections filed per migrant-month of the last 12 months", "per month", 1),
    Feature("unpaid_permit_month_share", FAMILY,
            "Share of months with a valid permit in which the migrant was not paid (12 months)",
            "share", 1),
    Feature("never_paid_permit_share", FAMILY,
            "Share of permits starting 3 to 36 months ago whose migrant was never paid",
            "share", 1),
    Feature("workforce_gap_share", FAMILY,
            "Share of recognised months of the last 12 with no employer totals filed",
            "share", 1),
    Feature("wage_total_inconsistency_share", FAMILY,
            "Share of months where migrants' wages or count exceed the employer's totals",
            "share", 1),
)

FEATURE_NAMES = tuple(f.name for f in FEATURES)


def _filing_timeliness(ctx: Context) -> pl.LazyFrame:
    """Original filings (not corrections) and corrections of the last 12 months' periods."""
    filings = ctx.filings["payroll"].with_columns(month_of("period").alias("month")).filter(
        ctx.since(12))
    period_end = pl.col("period").dt.offset_by("1mo")
    due = pl.col("period").dt.offset_by(f"{DUE_MONTHS + 1}mo")
    originals = pl.col("is_correction").not_()
    timeliness = filings.group_by("sponsor_id").agg(
        (pl.col("filed_on") >= due).filter(originals).mean().alias("late_filing_share"),
        (pl.col("filed_on") - period_end).dt.total_days().cast(pl.Float64)
        .filter(originals).median().alias("filing_delay_median_days"),
        pl.col("is_correction").sum().cast(pl.Float64).alias("corrections"),
    )
    migrant_months = (ctx.migrant_months.filter(ctx.since(12)).group_by("sponsor_id")
                      .agg(pl.col("migrants").sum().alias("migrant_months")))
    return timeliness.join(migrant_months, on="sponsor_id", how="left").select(
        "sponsor_id", "late_filing_share", "filing_delay_median_days",
        (pl.col("corrections") / pl.col("migrant_months")).alias("correction_share"))


def _unpaid_permit_months(ctx: Context) -> pl.LazyFrame:
    """Months of the last 12 (up to the sponsor's last payroll month) in which a granted
    permit was in use, and whether the migrant had a payroll row in them.

    A permit is in use from valid_from until valid_until or the end of employment the
    sponsor reported, whichever comes first: a reported departure is not an unpaid month.
    A migrant's permits with one sponsor are taken as one span, first start to last end
    (renewals follow each other).
    """
    last_month = ctx.stints.group_by("sponsor_id").agg(
        pl.col("sponsor_last_month").first())
    window_start = month_start(ctx.month - 11)
    reported_end = (ctx.known["notifications"]
                    .filter(pl.col("kind") == "EMPLOYMENT_ENDED")
                    .select("sponsor_id", "person_key", pl.col("event_on").alias("ended_on")))
    granted = (ctx.permits.filter((pl.col("decision") == "GRANTED")
                                  & (pl.col("valid_until") >= window_start))
               .join(reported_end, on=["sponsor_id", "person_key"], how="left")
               .with_columns(pl.when(pl.col("ended_on") >= pl.col("valid_from"))
                             .then(pl.col("ended_on")).alias("ended_on"))
               .group_by("application_id", "sponsor_id", "person_key", "valid_from",
                         "valid_until")
               .agg(pl.col("ended_on").min()))
    spans = (granted.group_by("sponsor_id", "person_key")
             .agg(month_of("valid_from").min().alias("first"),
                  pl.min_horizontal(month_of("valid_until"), month_of("ended_on")).max()
                  .alias("last"))
             .join(last_month, on="sponsor_id", how="inner")
             .with_columns(pl.max_horizontal("first", pl.lit(ctx.month - 11)).alias("first"),
                           pl.min_horizontal("last", "sponsor_last_month").alias("last"))
             .filter(pl.col("last") >= pl.col("first")))
    paid_in_span = (ctx.payroll.filter(ctx.since(12)).select("sponsor_id", "person_key", "month")
                    .join(spans, on=["sponsor_id", "person_key"], how="inner")
                    .filter(pl.col("month").is_between("first", "last"))
                    .group_by("sponsor_id", "person_key").agg(pl.len().alias("paid")))
    return (spans.join(paid_in_span, on=["sponsor_id", "person_key"], how="left")
            .group_by("sponsor_id")
            .agg((1 - pl.col("paid").fill_null(0).sum()
                  / (pl.col("last") - pl.col("first") + 1).sum()).cast(pl.Float64)
                 .alias("unpaid_permit_month_share")))


def _never_paid(ctx: Context) -> pl.LazyFrame:
    """Granted permits whose validity began in the last 36 months but at least
    :data:`FILING_LAG_MONTHS` + 1 months ago, against any payroll of that migrant there."""
    started = month_of("valid_from")
    permits = ctx.permits.filter(
        (pl.col("decision") == "GRANTED") & (started > ctx.month - 36)
        & (started < ctx.month - FILING_LAG_MONTHS)).select("sponsor_id", "person_key")
    paid = ctx.stints.select("sponsor_id", "person_key", pl.lit(True).alias("was_paid"))
    return (permits.join(paid, on=["sponsor_id", "person_key"], how="left")
            .group_by("sponsor_id")
            .agg(pl.col("was_paid").is_null().mean().alias("never_paid_permit_share")))


def _workforce_gaps(ctx: Context) -> pl.LazyFrame:
    """Months from recognition (at most 12 back) to T minus the filing lag."""
    last = ctx.month - FILING_LAG_MONTHS
    months = ctx.sponsors.select(
        "sponsor_id",
        pl.int_ranges(pl.max_horizontal(month_of("recognised_on"), pl.lit(ctx.month - 11)),
                      last + 1).alias("month")).explode("month").drop_nulls("month")
    filed = ctx.workforce.filter(ctx.since(12)).select("sponsor_id", "month",
                                                        pl.lit(True).alias("filed"))
    return (months.join(filed, on=["sponsor_id", "month"], how="left")
            .group_by("sponsor_id")
            .agg(pl.col("filed").is_null().mean().alias("workforce_gap_share")))


def _inconsistency(ctx: Context) -> pl.LazyFrame:
    migrants = ctx.migrant_months.filter(ctx.since(12))
    totals = ctx.workforce.filter(ctx.since(12))
    # a cent of rounding per migrant is not an inconsistency
    exceeds = ((pl.col("migrant_wages") > pl.col("total_gross_wage") + pl.col("migrants"))
               | (pl.col("migrants") > pl.col("headcount")))
    return (migrants.join(totals, on=["sponsor_id", "month"], how="inner")
            .group_by("sponsor_id")
            .agg(exceeds.mean().alias("wage_total_inconsistency_share")))


PARTS: tuple[Part, ...] = (
    (_filing_timeliness, ("late_filing_share", "filing_delay_median_days", "correction_share")),
    (_unpaid_permit_months, ("unpaid_permit_month_share",)),
    (_never_paid, ("never_paid_permit_share",)),
    (_workforce_gaps, ("workforce_gap_share",)),
    (_inconsistency, ("wage_total_inconsistency_share",)),
)


def compute(ctx: Context, names: Collection[str] = FEATURE_NAMES) -> pl.LazyFrame:
    """Filing features per active sponsor (those of ``names``)."""
    return per_sponsor(ctx, PARTS, names)
