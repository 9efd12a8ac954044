"""Build sponsor snapshots: one row per sponsor active on T, every feature as of T."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence

import polars as pl

from features.context import Context
from features.pit import FILING_KEYS, conform_all, with_superseded_on
from features.registry import FAMILIES, FEATURES, feature_names
from sponsorwatch.history import VERSIONED_TABLES, derive_versions

#: Engine for collecting snapshots here: the plan shares cached intermediate frames between
#: families, which the in-memory engine runs faster than the streaming one (measured in
#: benchmarks/bench_features.py).
ENGINE = "in-memory"


def build_features(tables: Mapping[str, pl.LazyFrame], as_of: dt.date,
                   thresholds: pl.DataFrame, use_sector: bool = True,
                   features: Sequence[str] | None = None) -> pl.LazyFrame:
    """Features of every sponsor recognised on ``as_of`` and not ended by it.

    Args:
        tables: contract tables by name (lazy); missing optional tables count as empty.
        as_of: the day T; only records known on T are used.
        thresholds: salary criteria (sponsorwatch.thresholds.load_thresholds()).
        use_sector: whether the sector features are included.
        features: only these features (in this order), computing only what they need;
            all of ``feature_names(use_sector)`` when None.

    Returns:
        Lazy frame with ``sponsor_id``, ``as_of`` and the features (Float64), sorted by
        sponsor_id. Pure: nothing is read or written until it is collected.

    Raises:
        KeyError: naming a requested feature the registry does not know.
    """
    names = feature_names(use_sector) if features is None else list(features)
    unknown = [n for n in names if n not in FEATURES]
    if unknown:
        raise KeyError(f"unknown feature(s) {unknown}; see docs/features.md")
    wanted = set(names)
    ctx = Context(tables, as_of, thresholds)
    frame = ctx.sponsors.select("sponsor_id")
    for family in FAMILIES:
        if any(f.name in wanted for f in family.features):
            frame = frame.join(family.compute(ctx, wanted), on="sponsor_id", how="left")
    return frame.select(
        "sponsor_id",
        pl.lit(as_of, dtype=pl.Date).alias("as_of"),
        *(_filled(pl.col(n).cast(pl.Float64), FEATURES[n].fill).alias(n) for n in names),
    ).sort("sponsor_id")


def _filled(column: pl.Expr, fill: float | None) -> pl.Expr:
    column = pl.when(column.is_nan()).then(None).otherwise(column)
    return column if fill is None else column.fill_null(fill)


def prepare_history(tables: Mapping[str, pl.LazyFrame]) -> dict[str, pl.LazyFrame]:
    """Read the tables into memory once and mark when each filing was superseded, so every
    as-of date picks its filings with a filter instead of a group-by."""
    complete = conform_all(tables)
    for name in VERSIONED_TABLES:
        complete[name] = derive_versions(name, complete[name])
    for name, key in FILING_KEYS.items():
        complete[name] = with_superseded_on(complete[name], key)
    return {name: frame.collect().lazy() for name, frame in complete.items()}


def build_feature_history(tables: Mapping[str, pl.LazyFrame], dates: Iterable[dt.date],
                          thresholds: pl.DataFrame, use_sector: bool = True,
                          on_snapshot: Callable[[dt.date, pl.DataFrame], None] | None = None,
                          features: Sequence[str] | None = None) -> pl.DataFrame | None:
    """Snapshots for many as-of dates, sharing the reading and sorting of the tables.

    Args:
        on_snapshot: called with each date and its collected snapshot (to write it and
            advance a progress bar); when given, nothing is kept and None is returned.
        features: only these features (see :func:`build_features`).

    Returns:
        All snapshots stacked (``as_of`` tells them apart), unless ``on_snapshot`` is given.
    """
    prepared = prepare_history(tables)
    frames: list[pl.DataFrame] = []
    for day in dates:
        snapshot = build_features(prepared, day, thresholds, use_sector,
                                  features).collect(engine=ENGINE)
        if on_snapshot is None:
            frames.append(snapshot)
        else:
            on_snapshot(day, snapshot)
    if on_snapshot is not None:
        return None
    if not frames:
        return build_features({}, dt.date(2000, 1, 1), thresholds, use_sector,
                              features).collect()
    return pl.concat(frames)


def as_of_dates(start: dt.date, end: dt.date, every: str = "month") -> list[dt.date]:
    """Dates from ``start`` to ``end`` inclusive, one ``month`` or ``quarter`` apart.

    Raises:
        ValueError: for an unknown step or an end before the start.
    """
    steps = {"month": "1mo", "quarter": "3mo"}
    if every not in steps:
        raise ValueError(f"every must be one of {sorted(steps)}, got {every!r}")
    if end < start:
        raise ValueError(f"--to {end} is before --from {start}")
    return pl.date_range(start, end, steps[every], eager=True).to_list()
