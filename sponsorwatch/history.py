"""Knowledge time (contract version 2): tables whose records come in versions, and what
was known of them on a day.

Sponsors, their officers and inspection outcomes are delivered as versions of a record,
each with the day it was recorded (``recorded_on``). The warehouse keeps every version;
a reader asks for the versions as known on a day (:func:`as_known_on`) or the latest of
each (:func:`current`). A version 1 delivery has no ``recorded_on``: :func:`derive_versions`
turns each such row into the versions its effective dates imply, as the contract says.
"""

from __future__ import annotations

from datetime import date
from typing import TypeVar

import polars as pl

from sponsorwatch.contract import TABLES

KNOWLEDGE_TIME = "recorded_on"

#: Versioned tables and, per table, what an earlier version of a row with an end
#: (recognition ended, officer left, inspection closed) carried before the end: the
#: columns it did not have yet (None) or had another value in.
VERSIONED_TABLES: dict[str, dict[str, str | None]] = {
    "sponsors": {"recognition_ended_on": None, "recognition_end_reason": None},
    "sponsor_officers": {"to_date": None},
    "inspections": {"closed_on": None, "outcome": "OPEN", "findings": None, "fine_eur": None},
}

Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)


def is_versioned(table: str) -> bool:
    return table in VERSIONED_TABLES


def entity_key(table: str) -> list[str]:
    """The key of the record a version belongs to: the contract key without
    ``recorded_on``."""
    return [c for c in TABLES[table].key if c != KNOWLEDGE_TIME]


def _start_and_end(table: str) -> tuple[str, str]:
    """The effective start and end date columns of a versioned table's record."""
    return {"sponsors": ("recognised_on", "recognition_ended_on"),
            "sponsor_officers": ("from_date", "to_date"),
            "inspections": ("opened_on", "closed_on")}[table]


def derive_versions(table: str, frame: Frame) -> Frame:
    """Rows without a knowledge time (a version 1 delivery, or a null ``recorded_on``)
    replaced by the versions their effective dates imply; rows with one pass unchanged.

    The contract takes such a row to have been recorded on its effective date: a sponsor
    on ``recognition_ended_on`` where present (else ``recognised_on``), an officer on
    ``to_date`` where present (else ``from_date``), an outcome on ``closed_on`` (an open
    inspection on ``opened_on``). Where a row carries an end, the record was known before
    the end too: that earlier version, without the end (an inspection still OPEN), is
    recorded on the start date, so a day before the end still sees the sponsor, officer
    or inspection as it was. Backdated changes cannot be told apart this way, which is why
    ingest reports that such history may leak.
    """
    if table not in VERSIONED_TABLES:
        return frame
    start, end = _start_and_end(table)
    unknown = pl.col(KNOWLEDGE_TIME).is_null()
    known = frame.filter(~unknown)
    derived = frame.filter(unknown)
    ended = derived.filter(pl.col(end).is_not_null())
    # The version before the end, recorded on the start (dropped where both fall on the
    # same day: then the ended version alone was ever known).
    schema = TABLES[table].schema
    before_end = ended.filter(pl.col(start) < pl.col(end)).with_columns(
        *[pl.lit(value, dtype=schema[c]).alias(c) for c, value in VERSIONED_TABLES[table].items()],
        pl.col(start).alias(KNOWLEDGE_TIME))
    return pl.concat([
        known,
        derived.filter(pl.col(end).is_null()).with_columns(
            # Without a start date either (a partial frame), the row was always known.
            pl.coalesce(start, pl.lit(date.min)).alias(KNOWLEDGE_TIME)),
        before_end,
        ended.with_columns(pl.col(end).alias(KNOWLEDGE_TIME)),
    ], how="vertical")


def as_known_on(table: str, frame: Frame, day: date) -> Frame:
    """Per record, the latest version recorded on or before ``day``; records not yet
    recorded then are left out. Tables without versions pass unchanged."""
    if table not in VERSIONED_TABLES:
        return frame
    return latest(table, frame.filter(pl.col(KNOWLEDGE_TIME) <= day))


def current(table: str, frame: Frame) -> Frame:
    """Per record, its latest version (what is known now)."""
    if table not in VERSIONED_TABLES:
        return frame
    return latest(table, frame)


def latest(table: str, frame: Frame) -> Frame:
    """Per record of a versioned table, the row with the greatest ``recorded_on``."""
    recorded = pl.col(KNOWLEDGE_TIME)
    return frame.filter(recorded == recorded.max().over(entity_key(table)))


def known_versions(table: str, frame: Frame, day: date | None = None) -> Frame:
    """Per record, the version known on ``day`` (the latest where None), from a frame that
    may lack ``recorded_on`` or leave it null (a version 1 delivery, an online request)."""
    if table not in VERSIONED_TABLES:
        return frame
    schema = frame.collect_schema() if isinstance(frame, pl.LazyFrame) else frame.schema
    # A partial frame (some columns of the table) still gets one version per row.
    needed = [KNOWLEDGE_TIME, *_start_and_end(table), *VERSIONED_TABLES[table]]
    contract = TABLES[table].schema
    missing = [c for c in dict.fromkeys(needed) if c not in schema]
    versions = derive_versions(table, frame.with_columns(
        pl.lit(None, dtype=contract[c]).alias(c) for c in missing))
    known = current(table, versions) if day is None else as_known_on(table, versions, day)
    return known.drop(missing)
