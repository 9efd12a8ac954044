"""Row-level checks of one table, in polars: clean, held or quarantined.

The decision for each row comes from here (the contract's polars expressions, the key
rule and the references, in one vectorised pass through :mod:`sponsorwatch.validation`):
a row breaking a rule of its own is quarantined; one whose only fault is its reference
(its sponsor unknown or quarantined) is held. great-expectations validates the same
parsed frame for the report. The table's warnings (lawful but unusual) are counted here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import polars as pl

from sponsorwatch.contract import TABLES, Table
from sponsorwatch.validation import (
    TEXT_SUFFIX,
    ContractViolation,
    parse_rule_name,
    parse_table,
    parsed_columns,
    triage_rows,
    warning_flags,
)

from .errors import IngestError
from .read import SOURCE_FILE, SOURCE_LINE, SOURCE_ROW, RawTable


@dataclass(frozen=True)
class CheckedTable:
    """One table after the row-level checks: every delivered row is clean, held or
    quarantined."""

    table: Table
    raw: RawTable
    #: Contract columns with contract types plus ``<column>__text``: what GX validates.
    parsed: pl.DataFrame
    clean: pl.DataFrame
    #: Rows breaking only a reference (sponsor unknown or quarantined): contract types and
    #: ``_source*`` columns; the ingest adds their reason (see :mod:`.held`).
    held: pl.DataFrame
    quarantined: pl.DataFrame
    #: Rows (held or quarantined) breaking each rule (a row may break several).
    broken: dict[str, int]
    #: Rows (not quarantined) showing each warning of the table, and up to
    #: :data:`WARNING_EXAMPLES` of them as ``{file, row, line}``.
    warnings: dict[str, int] = field(default_factory=dict)
    warning_examples: dict[str, list[dict[str, object]]] = field(default_factory=dict)

    @property
    def rows_in(self) -> int:
        return self.raw.frame.height


#: Source rows shown per warning in the report.
WARNING_EXAMPLES = 5


#: A column with at least this many values of which none parses has the wrong type as a
#: whole (dates written DD-MM-YYYY throughout, say): that stops ingest. Fewer values, or
#: some that parse, and each unparseable value only quarantines its own row.
WRONG_TYPE_MIN_VALUES = 20


def refuse_wrong_type(table: Table, parsed: pl.DataFrame, files: str) -> None:
    """Raise IngestError for a column none of whose (enough) values parses."""
    for name in parsed_columns(table):
        text = parsed.get_column(name + TEXT_SUFFIX)
        delivered = text.len() - text.null_count()
        if delivered >= WRONG_TYPE_MIN_VALUES and parsed.get_column(name).null_count() == (
                parsed.height):
            raise IngestError(files, name, parse_rule_name(name),
                              f"none of its {delivered:,} values parses as "
                              f"{table.column(name).dtype} (first: {text.drop_nulls()[0]!r})",
                              table.name)


def check_table(raw: RawTable, known: Mapping[str, pl.Series]) -> CheckedTable:
    """Parse ``raw`` to contract types and split it into clean, held and quarantined rows
    (see :func:`sponsorwatch.validation.triage_rows`); count the table's warnings on the
    rows that are not quarantined.

    Raises:
        IngestError: for a table-level problem, naming the file and column: a column
            missing or of an unconvertible type, or one in which no value parses.
    """
    table = TABLES[raw.table]
    files = ", ".join(f.relative for f in raw.files)
    try:
        parsed = parse_table(table, raw.frame, files)
    except ContractViolation as exc:
        raise IngestError.from_violation(exc, files) from exc
    refuse_wrong_type(table, parsed, files)
    rows = triage_rows(table, raw.frame, parsed, known)
    # the invariant ingest rests on: every row delivered is clean, held or quarantined
    if rows.clean.height + rows.held.height + rows.quarantined.height != raw.frame.height:
        raise AssertionError(f"{table.name}: rows lost between read and split")
    warnings, examples = _warnings(table, raw.frame, parsed, rows.quarantine_mask)
    return CheckedTable(table, raw, parsed, rows.clean,
                        rows.held.sort([SOURCE_FILE, SOURCE_ROW]),
                        rows.quarantined.sort([SOURCE_FILE, SOURCE_ROW]), rows.broken,
                        warnings, examples)


def _warnings(table: Table, frame: pl.DataFrame, parsed: pl.DataFrame,
              quarantined: pl.Series) -> tuple[dict[str, int], dict[str, list[dict[str, object]]]]:
    """Per warning, how many rows that are not quarantined show it, and a few of them."""
    if not table.warnings:
        return {}, {}
    flags = warning_flags(table, parsed).select(pl.all() & ~quarantined)
    sources = frame.select(SOURCE_FILE, SOURCE_ROW, SOURCE_LINE)
    counts, examples = {}, {}
    for rule in flags.columns:
        shown = sources.filter(flags[rule])
        counts[rule] = shown.height
        examples[rule] = [{"file": f, "row": r, "line": n} for f, r, n in
                          shown.head(WARNING_EXAMPLES).iter_rows()]
    return counts, examples
