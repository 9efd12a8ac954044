"""Labels from past inspections, per the contract (raw-records.md, "Labels").

For a snapshot of sponsor S as of T and a horizon H: 1 where an inspection of S opened in
(T, T+H] closed with VIOLATION, 0 where every such closed inspection found NO_VIOLATION,
unknown (null) otherwise. Labels have a knowledge time: with ``known_until`` (the training
cut-off) each inspection counts as its latest version recorded by then, and an outcome
closed later is still open; an outcome changed on appeal later is not seen.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import polars as pl

from features.pit import conform
from sponsorwatch.contract import TABLES
from sponsorwatch.history import known_versions

#: Order in which a snapshot's selection is reported when several inspections decide it:
#: a RANDOM one first, because only those make the snapshot part of the unbiased sample.
SELECTION_PRIORITY = ("RANDOM", "TIP", "RISK_BASED", "OTHER")
#: Columns of :func:`build_labels` besides the key: the label and its deciding inspection.
LABEL_COLUMNS = ("label", "selection", "plan_id", "inclusion_probability")
LABEL_SCHEMA = {"sponsor_id": pl.String, "as_of": pl.Date, "label": pl.Int8,
                "selection": pl.String, "plan_id": pl.String,
                "inclusion_probability": pl.Float64}


def add_months(day: date, months: int) -> date:
    """``day`` plus a number of calendar months, clamped to the month's last day."""
    return pl.select(pl.lit(day).dt.offset_by(f"{months}mo")).item()


def label_window_end(as_of: date, horizon_months: int) -> date:
    """T + H: the last day an inspection may open and still label a snapshot as of T."""
    return add_months(as_of, horizon_months)


def labelable_dates(as_of_dates: Iterable[date], horizon_months: int,
                    until: date) -> list[date]:
    """Snapshot dates whose whole label window ends by ``until`` (T + H <= until)."""
    return sorted(d for d in set(as_of_dates) if label_window_end(d, horizon_months) <= until)


def build_labels(inspections: pl.LazyFrame, as_of_dates: Iterable[date],
                 horizon_months: int, known_until: date | None = None) -> pl.LazyFrame:
    """One row per (sponsor, as_of) that had any inspection open in (T, T+H].

    Args:
        inspections: the contract table, every version of each inspection
            (``sponsor_id, opened_on, closed_on, selection, outcome``, ``recorded_on``).
        as_of_dates: snapshot dates T.
        horizon_months: H.
        known_until: the versions recorded by this day only; outcomes closed after it
            count as not yet known (still open). Without it, the latest versions.

    Returns:
        LazyFrame ``sponsor_id, as_of, label`` (Int8, null = unknown), ``selection`` (the
        RANDOM selection where one decided the label, else the most telling other one),
        ``plan_id`` and ``inclusion_probability`` of that same deciding inspection (null
        where no plan chose it: a tip, another reason, or a version 1 extract).
        Sponsors without any inspection in the window have no row: their label is unknown.
    """
    dates = sorted(set(as_of_dates))
    if not dates:
        return pl.LazyFrame(schema=LABEL_SCHEMA)
    windows = pl.LazyFrame({"as_of": dates}, schema={"as_of": pl.Date}).with_columns(
        window_end=pl.col("as_of").dt.offset_by(f"{horizon_months}mo"))
    inspections = known_versions("inspections", conform(TABLES["inspections"], inspections),
                                 known_until)
    closed = pl.col("closed_on").is_not_null()
    if known_until is not None:
        closed = closed & (pl.col("closed_on") <= known_until)
    outcome = pl.when(closed).then(pl.col("outcome")).otherwise(pl.lit("OPEN"))
    events = (inspections.select("inspection_id", "sponsor_id", "opened_on", "selection",
                                 outcome.alias("outcome"),
                                 "plan_id", "inclusion_probability")
              .join(windows, how="cross")
              .filter((pl.col("opened_on") > pl.col("as_of"))
                      & (pl.col("opened_on") <= pl.col("window_end"))))
    is_violation = pl.col("outcome") == "VIOLATION"
    is_clean = pl.col("outcome") == "NO_VIOLATION"
    is_conclusive = is_violation | is_clean
    priority = pl.col("selection").replace_strict(
        {s: i for i, s in enumerate(SELECTION_PRIORITY)}, default=len(SELECTION_PRIORITY),
        return_dtype=pl.Int32)
    # The selection reported is that of a deciding inspection: a violation where the label is
    # 1, any conclusive one where it is 0; RANDOM preferred so the unbiased slice is complete.
    deciding = (pl.when(is_violation.any().over("sponsor_id", "as_of"))
                .then(is_violation).otherwise(is_conclusive))
    return (events
            .with_columns(priority=pl.when(deciding).then(priority).otherwise(99))
            .group_by("sponsor_id", "as_of")
            .agg(*(pl.col(c).sort_by("priority", "opened_on", "inspection_id").first()
                   for c in ("selection", "plan_id", "inclusion_probability")),
                 any_violation=is_violation.any(),
                 all_clean=is_clean.filter(pl.col("outcome") != "OPEN").all(),
                 any_closed_clean=is_clean.any())
            .select("sponsor_id", "as_of",
                    pl.when(pl.col("any_violation")).then(pl.lit(1, pl.Int8))
                    .when(pl.col("any_closed_clean") & pl.col("all_clean"))
                    .then(pl.lit(0, pl.Int8))
                    .otherwise(pl.lit(None, pl.Int8)).alias("label"),
                    "selection", "plan_id", "inclusion_probability")
            .sort("as_of", "sponsor_id"))
