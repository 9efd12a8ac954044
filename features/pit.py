"""The point-in-time view: what the service knew on day T, and nothing it learnt later.

The rule of the contract (shared/contract/raw-records.md), applied to every table:

- payroll, workforce, notifications: ``filed_on <= T``, and per key and period the latest
  filing with ``filed_on <= T`` wins (a correction replaces what it corrects);
- permits: ``submitted_on <= T``; decision, decided_on and validity only where
  ``decided_on <= T``, otherwise the application is still PENDING;
- sponsors and sponsor_officers: first, per record, the latest version recorded on or
  before T (knowledge time, ``recorded_on``); within it recognition dates (and the end
  reason) only where they are ``<= T``; officers with ``from_date <= T`` and ``to_date``
  only where ``<= T``;
- inspections: per inspection the latest version recorded on or before T, of those
  closed on or before T.

Rows without a knowledge time (a version 1 extract, an online request) get the versions
their effective dates imply first (:func:`sponsorwatch.history.derive_versions`).

Only the unrestricted columns of the contract are ever selected here, so a restricted
column cannot reach a feature even by accident.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import polars as pl

from sponsorwatch.contract import TABLES, Table
from sponsorwatch.history import known_versions

#: Key and period of each table whose rows are filings that later filings may replace.
FILING_KEYS: dict[str, tuple[str, ...]] = {
    "payroll": ("sponsor_id", "person_key", "period"),
    "workforce": ("sponsor_id", "period"),
}

#: Optional column added by :func:`with_superseded_on`: when the next filing for the same
#: key and period arrived (null for the latest one). With it, picking the filing in force
#: on T is a plain filter, so many dates share one sort.
SUPERSEDED_ON = "_superseded_on"


def conform(table: Table, frame: pl.LazyFrame | None) -> pl.LazyFrame:
    """``frame`` reduced to the table's unrestricted columns, cast to the contract types.

    A missing table (or a missing nullable column) becomes empty (or null), so the online
    path can hand in only the records of one sponsor.
    """
    wanted = table.unrestricted_columns()
    if frame is None:
        return pl.LazyFrame(schema={c: table.column(c).dtype for c in wanted})
    present = frame.collect_schema()
    columns = [_typed(c, table.column(c).dtype, present.get(c)) for c in wanted]
    if SUPERSEDED_ON in present:
        columns.append(pl.col(SUPERSEDED_ON).cast(pl.Date))
    return frame.select(columns)


def _typed(name: str, dtype: pl.DataType, given: pl.DataType | None) -> pl.Expr:
    """Column ``name`` as ``dtype``; ISO text dates (as JSON carries them) are parsed.

    Casts are strict: a value that does not fit raises rather than turning into null.
    """
    if given is None:
        return pl.lit(None, dtype=dtype).alias(name)
    if given == pl.String and dtype == pl.Date:
        return pl.col(name).str.to_date("%Y-%m-%d").alias(name)
    return pl.col(name).cast(dtype).alias(name)


def conform_all(tables: Mapping[str, pl.LazyFrame]) -> dict[str, pl.LazyFrame]:
    """Every contract table, conformed; the missing ones empty."""
    return {name: conform(table, tables.get(name)) for name, table in TABLES.items()}


def with_superseded_on(frame: pl.LazyFrame, key: tuple[str, ...]) -> pl.LazyFrame:
    """Add :data:`SUPERSEDED_ON`: the ``filed_on`` of the next filing of the same key.

    Sorting on a hash of the key first keeps the sort on numbers almost everywhere; the
    key itself follows the hash in the sort, so filings of one key always sit together
    in filing order, and a collision of hashes cannot mix two keys.
    """
    same_key = pl.all_horizontal([pl.col(c) == pl.col(c).shift(-1) for c in key])
    return (frame.with_columns(pl.struct(list(key)).hash().alias("_key_hash"))
            .sort("_key_hash", *key, "filed_on")
            .with_columns(pl.when(same_key).then(pl.col("filed_on").shift(-1))
                          .otherwise(None).alias(SUPERSEDED_ON))
            .drop("_key_hash"))


def filings_as_of(frame: pl.LazyFrame, as_of: dt.date) -> pl.LazyFrame:
    """Every filing that had arrived by ``as_of``, replaced ones included."""
    return frame.filter(pl.col("filed_on") <= as_of)


def latest_filings(frame: pl.LazyFrame, key: tuple[str, ...], as_of: dt.date) -> pl.LazyFrame:
    """Per key and period, the latest filing with ``filed_on <= as_of``."""
    known = filings_as_of(frame, as_of)
    if SUPERSEDED_ON not in frame.collect_schema():
        known = with_superseded_on(known, key)
    return known.filter(pl.col(SUPERSEDED_ON).is_null()
                        | (pl.col(SUPERSEDED_ON) > as_of)).drop(SUPERSEDED_ON)


def _only_if_known(column: str, known: pl.Expr) -> pl.Expr:
    return pl.when(known).then(pl.col(column)).otherwise(None).alias(column)


def permits_as_of(frame: pl.LazyFrame, as_of: dt.date) -> pl.LazyFrame:
    """Applications submitted by ``as_of``; decisions taken after it are still PENDING."""
    decided = pl.col("decided_on").is_not_null() & (pl.col("decided_on") <= as_of)
    return frame.filter(pl.col("submitted_on") <= as_of).with_columns(
        pl.when(decided).then(pl.col("decision")).otherwise(pl.lit("PENDING")).alias("decision"),
        *(_only_if_known(c, decided) for c in ("decided_on", "valid_from", "valid_until")),
    )


def sponsors_as_of(frame: pl.LazyFrame, as_of: dt.date) -> pl.LazyFrame:
    """Every sponsor row, with recognition dates after ``as_of`` blanked."""
    ended = pl.col("recognition_ended_on") <= as_of
    return frame.with_columns(
        _only_if_known("recognised_on", pl.col("recognised_on") <= as_of),
        _only_if_known("recognition_ended_on", ended),
        _only_if_known("recognition_end_reason", ended),
    )


def officers_as_of(frame: pl.LazyFrame, as_of: dt.date) -> pl.LazyFrame:
    """Officers appointed by ``as_of``; a later departure is not yet known."""
    return frame.filter(pl.col("from_date") <= as_of).with_columns(
        _only_if_known("to_date", pl.col("to_date") <= as_of))


def known_as_of(tables: Mapping[str, pl.LazyFrame], as_of: dt.date) -> dict[str, pl.LazyFrame]:
    """The point-in-time view of every contract table on ``as_of`` (lazy, no I/O).

    Args:
        tables: contract tables by name; missing ones are treated as empty.
        as_of: the day T.

    Returns:
        Every contract table, with only its unrestricted columns, as known on T.
    """
    t = conform_all(tables)
    recorded = {name: known_versions(name, t[name], as_of)
                for name in ("sponsors", "sponsor_officers", "inspections")}
    return {
        "sponsors": sponsors_as_of(recorded["sponsors"], as_of),
        "sponsor_officers": officers_as_of(recorded["sponsor_officers"], as_of),
        "permits": permits_as_of(t["permits"], as_of),
        "payroll": latest_filings(t["payroll"], FILING_KEYS["payroll"], as_of),
        "workforce": latest_filings(t["workforce"], FILING_KEYS["workforce"], as_of),
        # notification_id is the key and unique, so every filing stands on its own.
        "notifications": filings_as_of(t["notifications"], as_of),
        "inspections": recorded["inspections"].filter(pl.col("closed_on") <= as_of),
    }


def active_sponsors(sponsors_known: pl.LazyFrame) -> pl.LazyFrame:
    """Sponsors recognised and not ended on T (input: :func:`sponsors_as_of` output)."""
    return sponsors_known.filter(pl.col("recognised_on").is_not_null()
                                 & pl.col("recognition_ended_on").is_null())
