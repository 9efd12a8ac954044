"""Salary against the criterion: underpayment, bunching at the threshold, paper salaries.

Monthly wages are compared with the monthly criterion in full months only (at least 90%
of the contract hours paid): a job that starts or ends mid-month is paid in part. Wages per
hour compare every month, so unpaid overtime shows even where the monthly sum is met.

A wage paid in month M is held against the threshold in force in M for the scheme of the
migrant's permit; a declared salary against the threshold in force on the day the
application was submitted (sponsorwatch.thresholds.with_threshold_in_force, listed per day
by features.context.thresholds_by_day).
"""

from __future__ import annotations

from collections.abc import Collection

import polars as pl

from features.context import RATIO_TOLERANCE, Context, Part, per_sponsor
from features.dates import month_of
from features.spec import Feature

FAMILY = "salary"

#: A ratio of paid wage to threshold in [1, BUNCHING_CEILING) sits just above the criterion.
BUNCHING_CEILING = 1.03
#: Hours paid above this multiple of contract hours count as work beyond the contract.
EXCESS_HOURS_RATIO = 1.10

FEATURES = (
    Feature("salary_below_threshold_share", FAMILY,
            "Share of full migrant-months in the last 12 months paid below the salary criterion",
            "share", 1),
    Feature("salary_ratio_median", FAMILY,
            "Median ratio of paid wage to the salary criterion, full months of the last 12",
            "ratio", -1),
    Feature("salary_ratio_lowest", FAMILY,
            "Lowest migrant's median ratio of paid wage to the criterion (full months, 12)",
            "ratio", -1),
    Feature("salary_bunching_share", FAMILY,
            "Share of migrants paid within 3% above the salary criterion (last 12 months)",
            "share", 1),
    Feature("salary_paid_vs_declared", FAMILY,
            "Median ratio of paid wage to the salary declared in the permit application",
            "ratio", -1),
    Feature("hourly_wage_ratio_median", FAMILY,
            "Median wage per hour paid against the criterion per contract hour (12 months)",
            "ratio", -1),
    Feature("hourly_below_threshold_share", FAMILY,
            "Share of migrant-months whose wage per hour paid is below the criterion's",
            "share", 1),
    Feature("declared_ratio_median", FAMILY,
            "Median declared salary against the criterion, applications of the last 36 months",
            "ratio", -1),
    Feature("declared_bunching_share", FAMILY,
            "Share of applications of the last 36 months declaring within 3% above the criterion",
            "share", 1),
    Feature("salary_no_raise_share", FAMILY,
            "Share of migrants paid no more than 12 months earlier",
            "share", 1),
    Feature("salary_tracks_threshold_share", FAMILY,
            "Share of migrants whose wage moved only with the criterion over 12 months "
            "(ratio to it changed under 1 point)", "share", 1),
    Feature("hours_paid_vs_contract", FAMILY,
            "Median ratio of hours paid to contract hours (weekly hours x 52/12), last 12 months",
            "ratio", 1),
    Feature("hours_excess_share", FAMILY,
            "Share of migrant-months paid over 10% more hours than the contract",
            "share", 1),
    Feature("salary_identical_share", FAMILY,
            "Share of migrant-months with exactly the wage of another migrant that month",
            "share", 1),
    Feature("other_staff_wage_vs_criterion", FAMILY,
            "Average wage of the sponsor's other (non-migrant) staff against its migrants' "
            "salary criterion (12 months)", "ratio", -1),
    Feature("other_staff_wage_bill_vs_criterion", FAMILY,
            "Monthly wages of the sponsor's other (non-migrant) staff, in multiples of its "
            "migrants' salary criterion (12 months)", "multiple", -1),
)

FEATURE_NAMES = tuple(f.name for f in FEATURES)

#: A ratio to the criterion that moved less than this in a year moved only with indexation.
TRACKING_TOLERANCE = 0.01


def _wages(ctx: Context) -> pl.LazyFrame:
    """Paid months of the last 12 months, flagged for identical wages in a month."""
    recent = ctx.paid.filter(ctx.since(12))
    return recent.with_columns(
        (pl.len().over("sponsor_id", "month", "gross_wage") > 1).alias("identical"))


def _year_on_year(ctx: Context) -> pl.LazyFrame:
    """Per migrant: last paid month in the last 12 months against the same month a year
    earlier; only migrants paid in both count."""
    last = (ctx.paid.filter(ctx.since(12)).sort("month")
            .group_by("sponsor_id", "person_key").last()
            .select("sponsor_id", "person_key", "month", "gross_wage", "threshold_ratio"))
    year_before = ctx.paid.filter(pl.col("month") <= ctx.month - 12).select(
                                  "sponsor_id", "person_key",
                                  (pl.col("month") + 12).alias("month"),
                                  pl.col("gross_wage").alias("wage_year_before"),
                                  pl.col("threshold_ratio").alias("ratio_year_before"))
    ratio_change = (pl.col("threshold_ratio") - pl.col("ratio_year_before")).abs()
    return (last.join(year_before, on=["sponsor_id", "person_key", "month"], how="inner")
            .group_by("sponsor_id")
            .agg((pl.col("gross_wage") <= pl.col("wage_year_before")).mean()
                 .alias("salary_no_raise_share"),
                 (ratio_change < TRACKING_TOLERANCE).filter(ratio_change.is_not_null()).mean()
                 .alias("salary_tracks_threshold_share")))


def _declared(ctx: Context) -> pl.LazyFrame:
    recent = ctx.permits.filter(month_of("submitted_on") > ctx.month - 36)
    ratio = (pl.col("declared_monthly_salary") / pl.col("threshold"))
    by_day = ctx.thresholds_by_day.lazy().rename({"day": "submitted_on"})
    return (recent.join(by_day, on=["scheme", "submitted_on"], how="left")
            .group_by("sponsor_id")
            .agg(ratio.median().alias("declared_ratio_median"),
                 ratio.is_between(1.0, BUNCHING_CEILING, closed="left")
                 .filter(ratio.is_not_null()).mean().alias("declared_bunching_share")))


def _other_staff(ctx: Context) -> pl.LazyFrame:
    """The employer's totals minus its migrants, month by month, held against the mean
    criterion of the migrants paid that month.

    Measured apart from the migrants' own wages on purpose: paying migrants more must never
    look riskier, while a wage bill that is all migrants (a shell) or other staff paid far
    below the criterion (low-skilled work) still shows.
    """
    migrants = ctx.paid.filter(ctx.since(12)).group_by("sponsor_id", "month").agg(
        pl.len().alias("migrants"),
        pl.col("gross_wage").sum().alias("migrant_wages"),
        pl.col("threshold").mean().alias("criterion"))
    months = (ctx.workforce.filter(ctx.since(12))
              .join(migrants, on=["sponsor_id", "month"], how="inner")
              .filter(pl.col("criterion").is_not_null())
              .with_columns(
                  (pl.col("total_gross_wage") - pl.col("migrant_wages")).clip(lower_bound=0.0)
                  .alias("other_wages"),
                  (pl.col("headcount") - pl.col("migrants")).clip(lower_bound=0)
                  .cast(pl.Float64).alias("other_staff")))
    other_wages = pl.col("other_wages").sum()
    return months.group_by("sponsor_id").agg(
        pl.when(pl.col("other_staff").sum() > 0)
        .then(other_wages / (pl.col("other_staff") * pl.col("criterion")).sum())
        .alias("other_staff_wage_vs_criterion"),
        (other_wages / pl.col("criterion").sum()).alias("other_staff_wage_bill_vs_criterion"))


def _monthly(ctx: Context) -> pl.LazyFrame:
    """Aggregates over the migrant-months of the last 12 months."""
    full = pl.col("full_month")
    ratio = pl.col("threshold_ratio")
    hourly = ratio / pl.col("contract_hours_ratio")
    return _wages(ctx).group_by("sponsor_id").agg(
        (ratio < 1).filter(full & ratio.is_not_null()).mean()
        .alias("salary_below_threshold_share"),
        ratio.filter(full).median().alias("salary_ratio_median"),
        (pl.col("gross_wage") / pl.col("declared_monthly_salary")).filter(full).median()
        .alias("salary_paid_vs_declared"),
        hourly.median().alias("hourly_wage_ratio_median"),
        (hourly < 1).filter(hourly.is_not_null()).mean().alias("hourly_below_threshold_share"),
        pl.col("contract_hours_ratio").median().alias("hours_paid_vs_contract"),
        (pl.col("contract_hours_ratio") > EXCESS_HOURS_RATIO + RATIO_TOLERANCE)
        .filter(pl.col("contract_hours_ratio").is_not_null()).mean()
        .alias("hours_excess_share"),
        pl.col("identical").mean().alias("salary_identical_share"),
    )


def _per_migrant(ctx: Context) -> pl.LazyFrame:
    full_months = ctx.paid.filter(ctx.since(12) & pl.col("full_month"))
    by_migrant = full_months.group_by("sponsor_id", "person_key").agg(
        pl.col("threshold_ratio").median().alias("migrant_ratio"))
    return by_migrant.group_by("sponsor_id").agg(
        pl.col("migrant_ratio").min().alias("salary_ratio_lowest"),
        pl.col("migrant_ratio").is_between(1.0, BUNCHING_CEILING, closed="left")
        .filter(pl.col("migrant_ratio").is_not_null()).mean().alias("salary_bunching_share"),
    )


PARTS: tuple[Part, ...] = (
    (_monthly, ("salary_below_threshold_share", "salary_ratio_median",
                "salary_paid_vs_declared", "hourly_wage_ratio_median",
                "hourly_below_threshold_share", "hours_paid_vs_contract", "hours_excess_share",
                "salary_identical_share")),
    (_other_staff, ("other_staff_wage_vs_criterion", "other_staff_wage_bill_vs_criterion")),
    (_per_migrant, ("salary_ratio_lowest", "salary_bunching_share")),
    (_year_on_year, ("salary_no_raise_share", "salary_tracks_threshold_share")),
    (_declared, ("declared_ratio_median", "declared_bunching_share")),
)


def compute(ctx: Context, names: Collection[str] = FEATURE_NAMES) -> pl.LazyFrame:
    """Salary features per active sponsor (those of ``names``)."""
    return per_sponsor(ctx, PARTS, names)
