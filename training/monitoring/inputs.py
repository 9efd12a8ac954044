"""The raw deliveries behind a snapshot, checked before the features average them away.

A feature over 12 or 36 months moves by a twelfth when one month's deliveries change, so a
column delivered empty or a sector's hiring stopping shows in the features only months
later. These checks look at what arrived since the previous snapshot (by knowledge time:
``filed_on`` for filings, ``submitted_on`` for applications) against what arrived during the
reference window, and at the salary criterion table the features were computed with.

- :func:`empty_columns`: per delivered column, the share of rows where it is empty (null,
  NaN, or 0 for an amount), now against the reference window (two-proportion z-test, Holm).
- :func:`sector_mix`: permit applications per SBI section, now against the reference
  window's shares (exact binomial test per section, ``scipy.stats.binomtest``, Holm).
- :func:`threshold_coverage`: whether the salary criterion of each scheme has its yearly
  step for the snapshot's year (the criteria are indexed every 1 January).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from training.monitoring.drift import holm, proportion_test

#: Per table: its knowledge-time column and the columns fixed at delivery that are checked.
DELIVERED_COLUMNS: dict[str, tuple[str, tuple[str, ...]]] = {
    "payroll": ("filed_on", ("gross_wage", "hours_paid")),
    "workforce": ("filed_on", ("headcount", "total_gross_wage")),
    "permits": ("submitted_on", ("declared_monthly_salary", "declared_weekly_hours",
                                 "age_at_submission", "isco_code")),
}


def _empty(column: str, dtype: pl.DataType) -> pl.Expr:
    col = pl.col(column)
    if dtype.is_numeric():
        return col.is_null() | col.cast(pl.Float64).is_nan() | (col == 0)
    return col.is_null() | (col.cast(pl.String).str.strip_chars() == "")


def _window(frame: pl.LazyFrame, column: str, after: dt.date, until: dt.date) -> pl.LazyFrame:
    return frame.filter((pl.col(column) > after) & (pl.col(column) <= until))


def empty_columns(tables: Mapping[str, pl.LazyFrame | pl.DataFrame], as_of: dt.date,
                  previous: dt.date, reference: tuple[dt.date, dt.date]) -> pl.DataFrame:
    """Per table and column of :data:`DELIVERED_COLUMNS`: rows and empty share of what
    arrived in ``(previous, as_of]`` and in the reference window ``(first, last]``, the
    z-test's p-value and its Holm adjustment over all columns checked."""
    rows = []
    for table, (when, columns) in DELIVERED_COLUMNS.items():
        if table not in tables:
            continue
        frame = tables[table].lazy()
        schema = frame.collect_schema()
        present = [c for c in columns if c in schema]
        if not present:
            continue
        aggs = [pl.len().alias("__rows")] + [
            _empty(c, schema[c]).sum().alias(c) for c in present]
        now = _window(frame, when, previous, as_of).select(aggs).collect().row(0, named=True)
        then = _window(frame, when, *reference).select(aggs).collect().row(0, named=True)
        for c in present:
            rows.append({
                "table": table, "column": c, "rows": now["__rows"],
                "empty_share": now[c] / now["__rows"] if now["__rows"] else None,
                "rows_reference": then["__rows"],
                "empty_share_reference": (then[c] / then["__rows"] if then["__rows"]
                                          else None),
                "pvalue": proportion_test(then[c], then["__rows"], now[c], now["__rows"])})
    frame = pl.DataFrame(rows, schema={
        "table": pl.String, "column": pl.String, "rows": pl.Int64, "empty_share": pl.Float64,
        "rows_reference": pl.Int64, "empty_share_reference": pl.Float64,
        "pvalue": pl.Float64})
    return frame.with_columns(pl.Series("pvalue_holm", holm(frame["pvalue"].to_list()),
                                        pl.Float64))


def sector_mix(permits: pl.LazyFrame | pl.DataFrame, sectors: pl.DataFrame, as_of: dt.date,
               previous: dt.date, reference: tuple[dt.date, dt.date]) -> pl.DataFrame:
    """Permit applications submitted in ``(previous, as_of]`` per sector (``sectors``:
    ``sponsor_id, sector``) against the reference window's share of that sector: count,
    expected count, share ratio, exact binomial p-value and its Holm adjustment."""
    from scipy.stats import binomtest

    applications = permits.lazy().select("sponsor_id", "submitted_on").join(
        sectors.lazy().select("sponsor_id", "sector"), on="sponsor_id", how="left")

    def counts(after: dt.date, until: dt.date) -> pl.DataFrame:
        return (_window(applications, "submitted_on", after, until)
                .group_by(pl.col("sector").fill_null("UNKNOWN")).agg(n=pl.len()).collect())

    now, then = counts(previous, as_of), counts(*reference)
    table = (then.rename({"n": "reference"})
             .join(now, on="sector", how="full", coalesce=True)
             .with_columns(pl.col("reference", "n").fill_null(0)).sort("sector"))
    total_now, total_then = int(table["n"].sum()), int(table["reference"].sum())
    rows = []
    for sector, reference_n, n in table.select("sector", "reference", "n").iter_rows():
        share = reference_n / total_then if total_then else 0.0
        expected = share * total_now
        testable = total_now and 0 < share < 1
        pvalue = binomtest(int(n), total_now, share).pvalue if testable else 1.0
        rows.append({"sector": sector, "applications": int(n), "expected": expected,
                     "share_reference": share,
                     "ratio": (n / expected) if expected else None, "pvalue": float(pvalue)})
    frame = pl.DataFrame(rows, schema={
        "sector": pl.String, "applications": pl.Int64, "expected": pl.Float64,
        "share_reference": pl.Float64, "ratio": pl.Float64, "pvalue": pl.Float64})
    return frame.with_columns(pl.Series("pvalue_holm", holm(frame["pvalue"].to_list()),
                                        pl.Float64))


def threshold_coverage(thresholds: pl.DataFrame, as_of: dt.date,
                       schemes: Sequence[str] | None = None) -> dict[str, Any]:
    """Per scheme the criterion in force on ``as_of`` and the day it took effect, and the
    schemes whose criterion in force dates from before 1 January of ``as_of``'s year (the
    yearly step is missing from the table)."""
    wanted = schemes or sorted(thresholds["scheme"].unique().to_list())
    in_force = (thresholds.filter(pl.col("valid_from") <= as_of)
                .sort("valid_from").group_by("scheme").last())
    found = {s: (v, t) for s, v, t in in_force.select(
        "scheme", "valid_from", "monthly_threshold").iter_rows()}
    year_start = dt.date(as_of.year, 1, 1)
    schemes_out = {s: {"valid_from": str(found[s][0]) if s in found else None,
                       "monthly_threshold": found[s][1] if s in found else None}
                   for s in wanted}
    missing = [s for s in wanted if s not in found or found[s][0] < year_start]
    return {"as_of": str(as_of), "year": as_of.year, "schemes": schemes_out,
            "missing_step": missing}


def section_of_sponsors(sponsors: pl.DataFrame) -> pl.DataFrame:
    """``sponsor_id, sector`` (SBI section) from the sponsors table, one row per sponsor
    (its latest recorded version)."""
    from sponsorwatch.sbi import sbi_section

    order = [c for c in ("recorded_on",) if c in sponsors.columns]
    frame = sponsors.sort(order) if order else sponsors
    return (frame.group_by("sponsor_id", maintain_order=True).last()
            .select("sponsor_id", sbi_section(pl.col("sbi_code")).alias("sector")))
