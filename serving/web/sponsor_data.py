"""One sponsor's records as the service knew them on the snapshot day, for the charts of
its page: wages against the salary criterion, hires and departures, filing and notice
delays.

The warehouse is read with the same point-in-time view the features use
(``features.context.Context``), restricted to the one sponsor first, so a chart never
shows a filing the score could not have seen.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from features.context import LOOKBACK_MONTHS, Context
from features.dates import month_number, month_start
from sponsorwatch.contract import NOTIFICATION_DEADLINE_DAYS, TABLES
from sponsorwatch.storage import scan_warehouse

#: Tables a sponsor page reads; the others play no part in its charts.
_TABLES = ("sponsors", "permits", "payroll", "workforce", "notifications")
#: Months of history the delay and turnover charts cover.
HISTORY_MONTHS = 36


@dataclass
class SponsorRecords:
    """What the charts of one sponsor page draw (each frame may be empty)."""

    as_of: dt.date
    #: person_key, period, gross_wage, threshold, scheme (last 24 months)
    wages: pl.DataFrame
    #: quarter (date of its first day), hires, departures
    turnover: pl.DataFrame
    #: period, delay_days (median first-filing delay of the month)
    filing_delays: pl.DataFrame
    #: event_on, filed_on, kind, delay_days
    notice_delays: pl.DataFrame
    deadline_days: int = NOTIFICATION_DEADLINE_DAYS


def _quarter(month_col: str) -> pl.Expr:
    """First day of the quarter of a month number column."""
    year = pl.col(month_col) // 12
    quarter_month = (pl.col(month_col) % 12) // 3 * 3 + 1
    return pl.date(year, quarter_month, 1)


def _scan_sponsor(warehouse_dir: Path, sponsor_id: str) -> dict[str, pl.LazyFrame]:
    # One warehouse version for every table, whatever an ingest swaps in meanwhile.
    tables = scan_warehouse(warehouse_dir)
    return {name: tables[name].select(TABLES[name].unrestricted_columns())
            .filter(pl.col("sponsor_id") == sponsor_id) for name in _TABLES if name in tables}


def load_sponsor_records(warehouse_dir: Path, sponsor_id: str, as_of: dt.date,
                         thresholds: pl.DataFrame) -> SponsorRecords:
    """The chart data of ``sponsor_id`` as known on ``as_of``.

    Raises:
        FileNotFoundError: naming the folder when there is no warehouse.
    """
    ctx = Context(_scan_sponsor(warehouse_dir, sponsor_id), as_of, thresholds)
    first_month = ctx.month - LOOKBACK_MONTHS
    since = month_start(ctx.month - HISTORY_MONTHS + 1)
    wages = (ctx.paid.select("person_key", "period", "gross_wage", "threshold", "scheme")
             .sort("person_key", "period"))
    stints = ctx.stints
    hires = (stints.filter(pl.col("first_month") > first_month)
             .select(_quarter("first_month").alias("quarter"))
             .group_by("quarter").len("hires"))
    departures = (stints.filter(pl.col("gone"))
                  .select((pl.col("last_month") + 1).alias("left_month"))
                  .filter(pl.col("left_month") <= ctx.month)
                  .select(_quarter("left_month").alias("quarter"))
                  .group_by("quarter").len("departures"))
    originals = ctx.filings["payroll"].filter(~pl.col("is_correction")
                                              & (pl.col("period") >= since))
    filing = (originals.group_by("person_key", "period")
              .agg(pl.col("filed_on").min())
              .with_columns((pl.col("filed_on") - pl.col("period").dt.offset_by("1mo"))
                            .dt.total_days().alias("delay_days"))
              .group_by("period").agg(pl.col("delay_days").median())
              .sort("period"))
    notices = (ctx.known["notifications"]
               .filter(pl.col("event_on") >= since)
               .select("event_on", "filed_on", "kind",
                       (pl.col("filed_on") - pl.col("event_on")).dt.total_days()
                       .alias("delay_days"))
               .sort("event_on"))
    wages_df, hires_df, departures_df, filing_df, notices_df = pl.collect_all(
        [wages, hires, departures, filing, notices])
    quarters = pl.DataFrame({"quarter": _quarters(since, as_of)})
    turnover = (quarters.join(hires_df, on="quarter", how="left")
                .join(departures_df, on="quarter", how="left")
                .with_columns(pl.col("hires", "departures").fill_null(0).cast(pl.Int64)))
    return SponsorRecords(as_of=as_of, wages=wages_df, turnover=turnover,
                          filing_delays=filing_df, notice_delays=notices_df)


def _quarters(first: dt.date, last: dt.date) -> list[dt.date]:
    """First days of the quarters from the one holding ``first`` to the one holding ``last``."""
    start = month_number(first) // 3 * 3
    end = month_number(last) // 3 * 3
    return [month_start(m) for m in range(start, end + 1, 3)]
