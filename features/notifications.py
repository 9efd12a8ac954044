"""Notifications: departures nobody reported, and reports that came late."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

import polars as pl

from features.context import Context, Part, per_sponsor
from features.dates import days_between, month_of
from features.spec import Feature
from sponsorwatch.contract import NOTIFICATION_DEADLINE_DAYS

FAMILY = "notifications"

FEATURES = (
    Feature("unreported_departures_36m", FAMILY,
            "Migrants whose pay stopped in the last 36 months with no EMPLOYMENT_ENDED "
            "notice within 28 days", "count", 1, fill=0.0),
    Feature("unreported_departure_share", FAMILY,
            "Share of departures of the last 36 months without an EMPLOYMENT_ENDED notice "
            "within 28 days", "share", 1),
    Feature("late_notice_share", FAMILY,
            "Share of notices about events of the last 36 months filed over 28 days late",
            "share", 1),
    Feature("notice_delay_median_days", FAMILY,
            "Median days from event to notice, events of the last 36 months", "days", 1),
)

FEATURE_NAMES = tuple(f.name for f in FEATURES)


def _departures(ctx: Context) -> pl.LazyFrame:
    """Stints that ended in the last 36 months whose 28 days to report have passed.

    Pay stops at the end of the last paid month; a notice counts when it reports an
    EMPLOYMENT_ENDED event from the month before the last paid month onward and was filed
    by the deadline (and, being known, by T).
    """
    deadline = dt.timedelta(days=NOTIFICATION_DEADLINE_DAYS)
    stops = ctx.stints.filter(pl.col("gone") & (pl.col("last_month") > ctx.month - 36)).select(
        "sponsor_id", "person_key", "last_month",
        (pl.date(pl.col("last_month") // 12, pl.col("last_month") % 12 + 1, 1)
         .dt.offset_by("1mo")).alias("stopped_on"),
    ).filter(pl.col("stopped_on") + deadline <= ctx.as_of)
    ended = ctx.known["notifications"].filter(
        (pl.col("kind") == "EMPLOYMENT_ENDED") & pl.col("person_key").is_not_null()).select(
        "sponsor_id", "person_key", "event_on", pl.col("filed_on").alias("notice_filed_on"))
    timely = (stops.join(ended, on=["sponsor_id", "person_key"], how="inner")
              .filter((month_of("event_on") >= pl.col("last_month") - 1)
                      & (pl.col("notice_filed_on") <= pl.col("stopped_on") + deadline))
              .select("sponsor_id", "person_key", pl.lit(True).alias("reported"))
              .unique(["sponsor_id", "person_key"]))
    return (stops.join(timely, on=["sponsor_id", "person_key"], how="left")
            .group_by("sponsor_id")
            .agg(pl.col("reported").is_null().sum().cast(pl.Float64)
                 .alias("unreported_departures_36m"),
                 pl.col("reported").is_null().mean().alias("unreported_departure_share")))


def _timeliness(ctx: Context) -> pl.LazyFrame:
    delay = days_between("filed_on", "event_on")
    return (ctx.known["notifications"].filter(month_of("event_on") > ctx.month - 36)
            .group_by("sponsor_id")
            .agg((delay > NOTIFICATION_DEADLINE_DAYS).mean().alias("late_notice_share"),
                 delay.median().alias("notice_delay_median_days")))


PARTS: tuple[Part, ...] = (
    (_departures, ("unreported_departures_36m", "unreported_departure_share")),
    (_timeliness, ("late_notice_share", "notice_delay_median_days")),
)


def compute(ctx: Context, names: Collection[str] = FEATURE_NAMES) -> pl.LazyFrame:
    """Notification features per active sponsor (those of ``names``)."""
    return per_sponsor(ctx, PARTS, names)
