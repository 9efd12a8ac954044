"""The contract's test of the point-in-time rule: an extract cut to what was recorded by T.

The contract (shared/contract/raw-records.md, "The test of the rule"): cut an extract to
what was recorded by T (every row and version with a knowledge time after T removed,
decisions after T shown as pending, inspections closed after T shown as open), compute the
features as of T from the cut extract and from the whole one: they must be identical.

:func:`cut_extract` makes the cut. It is written in the contract's terms, apart from the
point-in-time view in :mod:`features.pit`, so that the test compares two independent
readings of the rule. :func:`compare_cut_and_whole` runs the test for many days and counts
every value that differs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from sponsorwatch.contract import TABLES
from sponsorwatch.history import KNOWLEDGE_TIME, VERSIONED_TABLES, derive_versions

#: The knowledge time of each table whose rows are filings: a row filed after T is cut.
FILED_ON = {"payroll": "filed_on", "workforce": "filed_on", "notifications": "filed_on",
            "permits": "submitted_on"}

#: What a decision not yet taken on T looks like: PENDING, without dates.
PENDING: dict[str, str | None] = {"decision": "PENDING", "decided_on": None,
                                  "valid_from": None, "valid_until": None}


def cut_extract(tables: Mapping[str, pl.LazyFrame], as_of: dt.date) -> dict[str, pl.LazyFrame]:
    """The extract as it would have been delivered on ``as_of`` (lazy, no I/O).

    - payroll, workforce, notifications: rows filed after T removed;
    - permits: applications submitted after T removed, decisions taken after T shown as
      PENDING (decided_on, valid_from and valid_until null);
    - sponsors, sponsor_officers, inspections: versions recorded after T removed; rows
      without ``recorded_on`` (a version 1 extract) first get the versions their effective
      dates imply (:func:`sponsorwatch.history.derive_versions`), so the cut always carries
      ``recorded_on``;
    - inspections closed after T shown as open (closed_on, findings and fine null, outcome
      OPEN), including one opened by T whose every version was recorded after T: the
      service knew it was open.

    Tables other than the contract's (``truth``) pass unchanged; other columns are kept.
    """
    cut: dict[str, pl.LazyFrame] = {}
    for name, frame in tables.items():
        if name in VERSIONED_TABLES:
            cut[name] = _cut_versions(name, frame, as_of)
        elif name in FILED_ON:
            cut[name] = frame.filter(pl.col(FILED_ON[name]) <= as_of)
        else:
            cut[name] = frame
    if "permits" in cut:
        cut["permits"] = _pending_after(cut["permits"], as_of)
    return cut


def _values(table: str, values: Mapping[str, Any]) -> list[pl.Expr]:
    """The columns of ``values`` set to them, typed by the contract."""
    schema = TABLES[table].schema
    return [pl.lit(v, dtype=schema[c]).alias(c) for c, v in values.items()]


def _replaced_where(condition: pl.Expr, table: str, values: Mapping[str, Any]) -> list[pl.Expr]:
    """The columns of ``values`` set to them where ``condition``, kept elsewhere."""
    return [pl.when(condition).then(value).otherwise(pl.col(c)).alias(c)
            for c, value in zip(values, _values(table, values), strict=True)]


def _pending_after(permits: pl.LazyFrame, as_of: dt.date) -> pl.LazyFrame:
    undecided = pl.col("decided_on").is_null() | (pl.col("decided_on") > as_of)
    return permits.with_columns(_replaced_where(undecided, "permits", PENDING))


def _cut_versions(table: str, frame: pl.LazyFrame, as_of: dt.date) -> pl.LazyFrame:
    if KNOWLEDGE_TIME not in frame.collect_schema():
        frame = frame.with_columns(pl.lit(None, dtype=pl.Date).alias(KNOWLEDGE_TIME))
    versions = derive_versions(table, frame)
    known = versions.filter(pl.col(KNOWLEDGE_TIME) <= as_of)
    if table != "inspections":
        return known
    # Opened by T, but no version recorded by T: known on T as an open inspection.
    first = pl.col(KNOWLEDGE_TIME) == pl.col(KNOWLEDGE_TIME).min().over("inspection_id")
    opened = (versions.filter((pl.col("opened_on") <= as_of) & (pl.col(KNOWLEDGE_TIME) > as_of))
              .join(known.select("inspection_id"), on="inspection_id", how="anti")
              .filter(first)
              .with_columns(pl.col("opened_on").alias(KNOWLEDGE_TIME),
                            *_values(table, VERSIONED_TABLES[table])))
    closed_later = pl.col("closed_on") > as_of
    return pl.concat([known.with_columns(
        _replaced_where(closed_later, table, VERSIONED_TABLES[table])), opened], how="vertical")


@dataclass
class CutComparison:
    """Features as of one day from the whole extract against those from the cut one."""

    as_of: dt.date
    #: sponsor-snapshots compared (sponsors in either frame)
    sponsors: int
    #: sponsor_ids in one frame only
    only_whole: list[str] = field(default_factory=list)
    only_cut: list[str] = field(default_factory=list)
    #: per feature, how many sponsors' values differ (features with none left out)
    differences: dict[str, int] = field(default_factory=dict)
    #: a few differing values: sponsor_id, feature, whole, cut
    examples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return not (self.only_whole or self.only_cut or self.differences)

    def as_dict(self) -> dict[str, Any]:
        return {"as_of": self.as_of.isoformat(), "sponsors": self.sponsors,
                "only_whole": self.only_whole, "only_cut": self.only_cut,
                "differences": self.differences, "examples": self.examples}


def _same(whole: pl.Expr, cut: pl.Expr) -> pl.Expr:
    """Equal to the last bit, null equal to null, NaN equal to NaN."""
    both_nan = whole.is_nan().fill_null(False) & cut.is_nan().fill_null(False)
    return whole.eq_missing(cut) | both_nan


def compare_snapshots(whole: pl.DataFrame, cut: pl.DataFrame,
                      max_examples: int = 10) -> CutComparison:
    """Compare two snapshots of one day value by value, matched on sponsor_id.

    Raises:
        ValueError: when the frames hold other columns or more than one day.
    """
    if whole.columns != cut.columns:
        raise ValueError(f"columns differ: {whole.columns} against {cut.columns}")
    days = set(whole["as_of"].unique().to_list()) | set(cut["as_of"].unique().to_list())
    if len(days) != 1:
        raise ValueError(f"a comparison is of one day, got {sorted(days)}")
    features = [c for c in whole.columns if c not in ("sponsor_id", "as_of")]
    joined = whole.join(cut, on="sponsor_id", how="full", suffix="_cut", coalesce=False)
    in_whole, in_cut = pl.col("sponsor_id").is_not_null(), pl.col("sponsor_id_cut").is_not_null()
    result = CutComparison(
        as_of=days.pop(), sponsors=joined.height,
        only_whole=joined.filter(~in_cut)["sponsor_id"].sort().to_list(),
        only_cut=joined.filter(~in_whole)["sponsor_id_cut"].sort().to_list())
    both = joined.filter(in_whole & in_cut).sort("sponsor_id")
    differs = both.select(~_same(pl.col(f), pl.col(f"{f}_cut")).alias(f) for f in features)
    for name, count in zip(features, differs.sum().row(0), strict=True):
        if count:
            result.differences[name] = int(count)
    for name in result.differences:
        rows = both.filter(differs[name]).head(max_examples - len(result.examples))
        result.examples += [{"sponsor_id": r["sponsor_id"], "feature": name,
                             "whole": r[name], "cut": r[f"{name}_cut"]}
                            for r in rows.iter_rows(named=True)]
    return result


def compare_cut_and_whole(tables: Mapping[str, pl.LazyFrame], dates: Iterable[dt.date],
                          thresholds: pl.DataFrame, use_sector: bool = True,
                          timings: dict[str, float] | None = None) -> list[CutComparison]:
    """The contract's test of the rule on each day: the snapshots built from the whole
    extract (as ``sponsorwatch features`` builds them, many days at once) against each built
    from the extract cut to that day.

    Args:
        timings: filled with wall seconds (``whole``: all days from the whole extract;
            ``cut``: cutting and building every day's cut snapshot) when given.
    """
    import time

    from features.build import ENGINE, build_feature_history, build_features

    dates = list(dates)
    started = time.perf_counter()
    whole = build_feature_history(tables, dates, thresholds, use_sector)
    assert whole is not None
    built = time.perf_counter()
    cuts = [build_features(cut_extract(tables, day), day, thresholds, use_sector)
            .collect(engine=ENGINE) for day in dates]
    if timings is not None:
        timings["whole"] = round(built - started, 3)
        timings["cut"] = round(time.perf_counter() - built, 3)
    return [compare_snapshots(whole.filter(pl.col("as_of") == day), cut)
            for day, cut in zip(dates, cuts, strict=True)]
