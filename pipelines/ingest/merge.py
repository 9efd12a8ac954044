"""Checking every delivered table and merging it into the warehouse's clean and held rows.

Order matters: sponsors are checked first, and every other table's references are
checked against the sponsors of the merged clean warehouse (this extract's clean sponsors
plus those already ingested). A row whose sponsor is unknown or was quarantined in this
delivery is held (see :mod:`.held`); rows held before are validated again and released
where their sponsor is now known. The clean layer keeps its references intact.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from sponsorwatch.contract import TABLES, Table
from sponsorwatch.history import KNOWLEDGE_TIME, derive_versions, is_versioned

from . import held
from .read import RawTable
from .rules import CheckedTable, check_table
from .warehouse import merge_clean, read_clean

#: Called with a step's description before it starts.
StepCallback = Callable[[str], None]


def tick(on_step: StepCallback | None, text: str) -> None:
    if on_step is not None:
        on_step(text)


@dataclass
class Checked:
    """Every delivered table checked, and the warehouse's clean and held tables after
    the merge."""

    tables: dict[str, CheckedTable] = field(default_factory=dict)
    clean: dict[str, pl.DataFrame] = field(default_factory=dict)
    held: dict[str, pl.DataFrame] = field(default_factory=dict)
    #: This run's quarantine per table (delivered rows, then held rows that broke a rule
    #: when validated again).
    quarantine: dict[str, pl.DataFrame] = field(default_factory=dict)
    counts: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Known key values references are checked against (the merged clean sponsors).
    known: dict[str, pl.Series] = field(default_factory=dict)
    #: Sponsor ids of this delivery all of whose rows were quarantined.
    quarantined_ids: pl.Series = field(default_factory=lambda: pl.Series(dtype=pl.String()))
    #: Per versioned table whose recorded_on was derived: the report's line.
    knowledge_time: dict[str, str] = field(default_factory=dict)


def check_all(raws: dict[str, RawTable], warehouse: Path | None, extract: str,
              on_step: StepCallback | None) -> Checked:
    """Check each table in dependency order (sponsors first: references are checked
    against the sponsors of the merged warehouse), release the rows held before, and
    merge both into the warehouse's clean rows."""
    out = Checked()
    for table in TABLES.values():
        tick(on_step, f"checking {table.name}")
        result = check_table(raws[table.name], out.known) if table.name in raws else None
        _merge_table(out, table, result, warehouse, extract)
        if table.name == "sponsors" and "sponsors" in out.clean:
            out.known["sponsors"] = out.clean["sponsors"]["sponsor_id"].unique(maintain_order=True)
            if result is not None:
                out.quarantined_ids = _quarantined_ids(result, out.known["sponsors"])
    return out


def _merge_table(out: Checked, table: Table, result: CheckedTable | None,
                 warehouse: Path | None, extract: str) -> None:
    name = table.name
    existing = read_clean(warehouse, table)
    counts: dict[str, Any] = {"delivered": result is not None} | dict.fromkeys(ZERO_COUNTS, 0)
    quarantine = [result.quarantined] if result is not None else []
    if table.references:
        freed = held.release(table, held.read_held(warehouse, table),
                             [result.clean, result.held] if result is not None else [],
                             out.known, out.quarantined_ids)
        if freed.released.height:  # older than this delivery: its rows win on a key
            existing = merge_clean(table, existing,
                                   derive_versions(name, freed.released)).frame
        new_held = ([held.hold(table, result.held, out.quarantined_ids, extract)]
                    if result is not None else [])
        out.held[name] = held.combine(table, [*new_held, freed.held])
        quarantine.append(freed.quarantined)
        counts |= {"released": freed.released.height, "held_superseded": freed.superseded,
                   "released_quarantined": freed.quarantined.height,
                   "held_now": out.held[name].height}
    if result is not None:
        # Rows without a knowledge time become the versions their dates imply.
        versions = derive_versions(name, result.clean)
        merged = merge_clean(table, existing, versions)
        out.tables[name], out.clean[name] = result, merged.frame
        counts |= {"rows_in": result.rows_in, "clean": result.clean.height,
                   "held": result.held.height, "quarantined": result.quarantined.height,
                   "versions_derived": versions.height - result.clean.height,
                   "added": merged.added, "superseded": merged.superseded}
        _note_knowledge_time(out, name, result)
    elif existing is not None:
        out.clean[name] = existing
    else:
        return  # an optional table never delivered
    quarantine = [q for q in quarantine if q.height]
    if quarantine:
        out.quarantine[name] = pl.concat(quarantine, how="diagonal")
    elif result is not None:
        out.quarantine[name] = result.quarantined  # no rows, the columns of a quarantine
    out.counts[name] = counts | {"warehouse_rows": out.clean[name].height}


#: Counts of a table in the manifest, zero where the table was not delivered.
ZERO_COUNTS = ("rows_in", "clean", "held", "quarantined", "versions_derived", "added",
               "superseded", "released", "held_superseded", "released_quarantined",
               "held_now")


def _quarantined_ids(sponsors: CheckedTable, known: pl.Series) -> pl.Series:
    """Sponsor ids delivered only in quarantined rows (so unknown to the warehouse)."""
    ids = sponsors.quarantined.get_column("sponsor_id").drop_nulls().unique()
    return ids.filter(~ids.is_in(known.implode()))


def _note_knowledge_time(out: Checked, name: str, checked: CheckedTable) -> None:
    """The report's line for a versioned table whose recorded_on was derived."""
    if not is_versioned(name):
        return
    derived = sum(f.get_column(KNOWLEDGE_TIME).null_count()
                  for f in (checked.clean, checked.held))
    if not derived:
        return
    kept = checked.clean.height + checked.held.height
    what = ("recorded_on was not delivered (a version 1 extract)"
            if KNOWLEDGE_TIME not in checked.raw.frame.columns
            else f"recorded_on was empty in all {kept:,} rows" if derived == kept
            else f"recorded_on was missing in {derived:,} of {kept:,} rows")
    out.knowledge_time[name] = (
        f"{name}: {what} and was derived from effective dates ({EFFECTIVE_DATES[name]}), "
        "so backdated changes may leak into the past")


#: How the contract derives a missing recorded_on (see sponsorwatch.history).
EFFECTIVE_DATES = {
    "sponsors": "recognised_on, or recognition_ended_on where present",
    "sponsor_officers": "from_date, or to_date where present",
    "inspections": "closed_on, or opened_on while open",
}


