"""Held rows: rows whose only fault is their sponsor, kept until a delivery brings it.

The contract: "A row whose referenced sponsor is unknown or itself quarantined is held,
not lost: it is kept with its reason and enters the warehouse as soon as a later
delivery brings a valid version of that sponsor." Held rows live in
``warehouse/held/<table>.parquet``: the contract columns as parsed, where they came from
(``_source_extract``, ``_source_file``, ``_source_row``, ``_source_line``) and
``_held_reason``. Each ingest validates them again, as new rows, against the sponsors
of the merged warehouse: released rows enter the clean table, the others stay held.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from sponsorwatch.contract import Table
from sponsorwatch.validation import parse_table, triage_rows

from .warehouse import HELD_DIR

HELD_REASON = "_held_reason"
#: The extract a held row was delivered in (a ``_source`` column: it travels with the row).
SOURCE_EXTRACT = "_source_extract"
SPONSOR_UNKNOWN = "sponsor_id unknown"
SPONSOR_QUARANTINED = "sponsor quarantined"
#: Sponsors listed by name in the report and manifest; totals are always complete.
TOP_SPONSORS = 20
_SOURCE_SCHEMA = {"_source_file": pl.String(), "_source_row": pl.Int64(),
                  "_source_line": pl.Int64(), SOURCE_EXTRACT: pl.String(),
                  HELD_REASON: pl.String()}


def held_schema(table: Table) -> pl.Schema:
    return pl.Schema({**dict(table.schema), **_SOURCE_SCHEMA})


def _reason(table: Table, quarantined_ids: pl.Series, otherwise: pl.Expr) -> pl.Expr:
    column = table.references[0].column
    return (pl.when(pl.col(column).is_in(quarantined_ids.implode()))
            .then(pl.lit(SPONSOR_QUARANTINED)).otherwise(otherwise))


def hold(table: Table, held: pl.DataFrame, quarantined_ids: pl.Series,
         extract: str) -> pl.DataFrame:
    """This delivery's held rows with their reason: the sponsor was quarantined in this
    delivery (every row of it broke a rule), or its id is unknown."""
    return held.with_columns(
        pl.lit(extract).alias(SOURCE_EXTRACT),
        _reason(table, quarantined_ids, pl.lit(SPONSOR_UNKNOWN)).alias(HELD_REASON),
    ).select(held_schema(table).names()).cast(held_schema(table))


def read_held(warehouse: Path | None, table: Table) -> pl.DataFrame | None:
    """The rows of ``table`` held in the warehouse version ``warehouse``, if any."""
    path = (warehouse / HELD_DIR / f"{table.name}.parquet") if warehouse else None
    if path is None or not path.exists():
        return None
    frame = pl.read_parquet(path)
    schema = held_schema(table)
    return frame.with_columns(pl.lit(None, dtype=schema[c]).alias(c)
                              for c in schema.names() if c not in frame.columns
                              ).select(schema.names()).cast(schema)


@dataclass(frozen=True)
class Release:
    """What became of the rows held before this ingest."""

    #: Contract columns and types: they enter the clean table now.
    released: pl.DataFrame
    #: Still waiting for their sponsor (with their reason, updated).
    held: pl.DataFrame
    #: Validated again, they break a rule of their own (as quarantined rows, text).
    quarantined: pl.DataFrame
    #: Replaced by a row of this delivery with the same key (clean or held again).
    superseded: int


def release(table: Table, previous: pl.DataFrame | None, delivered: list[pl.DataFrame],
            known: Mapping[str, pl.Series], quarantined_ids: pl.Series) -> Release:
    """Validate the rows held before this ingest again, like new rows, against the
    sponsors now ``known``; ``delivered`` are this delivery's clean and held rows of the
    table (a row of the same key replaces a held one)."""
    schema = held_schema(table)
    if previous is None or previous.height == 0:
        empty = pl.DataFrame(schema=schema)
        return Release(empty.select(table.column_names), empty, pl.DataFrame(), 0)
    key = list(table.key)
    again = previous.join(pl.concat([d.select(key) for d in delivered]), on=key, how="anti",
                          nulls_equal=True) if delivered else previous
    rows = triage_rows(table, again, parse_table(table, again), known, carry=(HELD_REASON,))
    still = rows.held.with_columns(
        _reason(table, quarantined_ids, pl.col(HELD_REASON)).alias(HELD_REASON))
    result = Release(rows.clean, still.select(schema.names()).cast(schema),
                     rows.quarantined, previous.height - again.height)
    if (result.released.height + result.held.height + result.quarantined.height
            + result.superseded) != previous.height:  # held rows are never lost either
        raise AssertionError(f"{table.name}: held rows lost on release")
    return result


def combine(table: Table, frames: list[pl.DataFrame]) -> pl.DataFrame:
    """Held rows of several sources as one table, sorted by key (same rows, same bytes)."""
    schema = held_schema(table)
    return pl.concat([pl.DataFrame(schema=schema), *frames], how="vertical").sort(
        list(table.key), nulls_last=True)


def summary(held: Mapping[str, pl.DataFrame]) -> dict[str, Any]:
    """Held rows in the warehouse: total, by table and reason, and the sponsors with the
    most (:data:`TOP_SPONSORS` of them)."""
    frames = [h.select("sponsor_id", HELD_REASON).with_columns(pl.lit(name).alias("table"))
              for name, h in held.items() if h.height]
    if not frames:
        return {"total": 0, "sponsors": 0, "by_table": {}, "by_reason": {},
                "top_sponsors": []}
    rows = pl.concat(frames)
    by_sponsor = rows.group_by("sponsor_id").agg(
        pl.len().alias("rows"), pl.col(HELD_REASON).unique().sort().alias("reasons"),
        pl.col("table").unique().sort().alias("tables"),
    ).sort(["rows", "sponsor_id"], descending=[True, False])
    return {
        "total": rows.height, "sponsors": by_sponsor.height,
        "by_table": dict(sorted(rows.group_by("table").len().iter_rows())),
        "by_reason": dict(sorted(rows.group_by(HELD_REASON).len().iter_rows())),
        "top_sponsors": [{"sponsor_id": s, "rows": n, "reasons": r, "tables": t}
                         for s, n, r, t in by_sponsor.head(TOP_SPONSORS).iter_rows()]}
