"""Row-level checks and quarantine of one table, in polars.

The quarantine decision for each row comes from here (the contract's polars
expressions, the key rule and the references, in one vectorised pass through
:mod:`sponsorwatch.validation`); great-expectations validates the same parsed frame
for the report.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from sponsorwatch.contract import TABLES, Table
from sponsorwatch.validation import (
    TEXT_SUFFIX,
    ContractViolation,
    parse_rule_name,
    parse_table,
    parsed_columns,
    rule_counts,
    split_rows,
)

from .errors import IngestError
from .read import RawTable


@dataclass(frozen=True)
class CheckedTable:
    """One table after the row-level checks."""

    table: Table
    raw: RawTable
    #: Contract columns with contract types plus ``<column>__text``: what GX validates.
    parsed: pl.DataFrame
    clean: pl.DataFrame
    quarantined: pl.DataFrame
    #: Rows breaking each rule (a row may break several).
    broken: dict[str, int]

    @property
    def rows_in(self) -> int:
        return self.raw.frame.height


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
    """Parse ``raw`` to contract types and split it into clean and quarantined rows.

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
    clean, quarantined = split_rows(table, raw.frame, parsed, known)
    if clean.height + quarantined.height != raw.frame.height:  # the invariant ingest rests on
        raise AssertionError(f"{table.name}: rows lost between read and split")
    quarantined = quarantined.sort(["_source_file", "_source_row"])
    return CheckedTable(table, raw, parsed, clean, quarantined, rule_counts(quarantined))
