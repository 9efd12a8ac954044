"""Row validation against the contract in pure polars, without great-expectations.

Ingest and the online scoring path both call :func:`validate_rows`, so a record is
judged by the same rules wherever it arrives. A frame may hold the contract columns as
text (CSV, JSON requests) or already typed (Parquet); text is parsed here, and a value
that cannot be parsed breaks the rule ``<column>_parseable`` for that row only. Problems
with a whole column (a required column missing, a type no value of which can be
converted) raise :class:`ContractViolation`, because no row of such a table can be judged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import polars as pl

from sponsorwatch.contract import TABLES, Reference, Rule, Table, key_rule, row_rules

#: Name of the list column holding the rules a quarantined row breaks.
RULES_BROKEN = "_rules_broken"
#: Prefix of bookkeeping columns (``_source_file``, ``_source_row``) carried to quarantine.
SOURCE_PREFIX = "_source"
#: Suffix of the text a typed column was parsed from (see :func:`parse_table`).
TEXT_SUFFIX = "__text"
#: Separator of list values in text (``findings`` in CSV).
LIST_SEPARATOR = ";"

_DATE_TEXT = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_INT_TEXT = r"^[+-]?[0-9]+$"
_FLOAT_TEXT = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"
_TRUE_TEXT = ("true", "1")
_FALSE_TEXT = ("false", "0")


class ContractViolation(ValueError):
    """A table-level problem: no row of the table can be judged until it is fixed."""

    def __init__(self, table: str, column: str | None, rule: str, detail: str,
                 file: str | None = None) -> None:
        self.table, self.column, self.rule, self.detail, self.file = (
            table, column, rule, detail, file)
        where = file or table
        col = f", column {column!r}" if column else ""
        super().__init__(f"{where}{col}: rule {rule} broken: {detail}")


class ValidatedRows(NamedTuple):
    """``clean`` rows with contract types; ``quarantined`` rows as text with their
    broken rules in ``_rules_broken`` and any ``_source*`` columns of the input."""

    clean: pl.DataFrame
    quarantined: pl.DataFrame


def parse_rule_name(column: str) -> str:
    return f"{column}_parseable"


def reference_rule_name(ref: Reference) -> str:
    return f"{ref.column}_known_in_{ref.to_table}"


def parsed_columns(table: Table) -> list[str]:
    """Columns that are parsed from text (every non-text column)."""
    return [c.name for c in table.columns if c.dtype != pl.String()]


def rule_names(table: Table, with_references: bool = True) -> list[str]:
    """Every row-level rule name of ``table``, in the order flags are computed."""
    names = [parse_rule_name(c) for c in parsed_columns(table)]
    names += [r.name for r in row_rules(table)] + [key_rule(table).name]
    if with_references:
        names += [reference_rule_name(ref) for ref in table.references]
    return names


def _table(table: Table | str) -> Table:
    return TABLES[table] if isinstance(table, str) else table


def check_columns(table: Table, columns: list[str], file: str | None = None) -> None:
    """Raise :class:`ContractViolation` for a required column that is absent."""
    for col in table.columns:
        if not col.nullable and col.name not in columns:
            raise ContractViolation(table.name, col.name, "required_column_present",
                                    "required column is missing", file)


def check_schema(table: Table | str, schema: pl.Schema | Mapping[str, pl.DataType],
                 file: str | None = None) -> None:
    """Raise :class:`ContractViolation` where a required column is absent or a column's
    type cannot be converted to the contract type at all."""
    table = _table(table)
    check_columns(table, list(schema), file)
    for col in table.columns:
        if col.name in schema:
            _convert(table, col.name, schema[col.name], col.dtype, file)


def _text_of(name: str, dtype: pl.DataType) -> pl.Expr:
    """The value as text, blank meaning missing: what a parser of CSV would see."""
    if dtype == pl.Null():
        return pl.lit(None, dtype=pl.String())
    text = _raw_text(name, dtype)
    if not isinstance(dtype, pl.List | pl.String | pl.Categorical | pl.Enum):
        return text  # a typed value is never blank
    stripped = text.str.strip_chars()
    return pl.when(stripped == "").then(None).otherwise(stripped)


def _parse_text(text: pl.Expr, target: pl.DataType) -> pl.Expr:
    if target == pl.Date():
        return (pl.when(text.str.contains(_DATE_TEXT))
                .then(text.str.strptime(pl.Date(), "%Y-%m-%d", strict=False)))
    if target == pl.Int64():
        return pl.when(text.str.contains(_INT_TEXT)).then(text.cast(pl.Int64(), strict=False))
    if target == pl.Float64():
        value = pl.when(text.str.contains(_FLOAT_TEXT)).then(
            text.cast(pl.Float64(), strict=False))
        return pl.when(value.is_finite()).then(value)
    if target == pl.Boolean():
        lower = text.str.to_lowercase()
        return (pl.when(lower.is_in(_TRUE_TEXT)).then(True)
                .when(lower.is_in(_FALSE_TEXT)).then(False))
    if isinstance(target, pl.List):
        return text.str.split(LIST_SEPARATOR)
    raise TypeError(f"no text parser for {target}")


def _convert(table: Table, name: str, source: pl.DataType, target: pl.DataType,
             file: str | None) -> pl.Expr:
    """Expression turning the source column into the contract type; null where it fails."""
    col = pl.col(name)
    if source == pl.Null():
        return pl.lit(None, dtype=target)
    if source == target and target != pl.Float64():
        return col
    if target == pl.String():
        if isinstance(source, pl.Categorical | pl.Enum):
            return col.cast(pl.String())
    elif source == pl.String() or isinstance(source, pl.Categorical | pl.Enum):
        return _parse_text(_text_of(name, pl.String()), target)
    elif target == pl.Date() and isinstance(source, pl.Datetime):
        return col.dt.date()
    elif target == pl.Int64() and source.is_integer():
        return col.cast(pl.Int64(), strict=False)
    elif target == pl.Int64() and source.is_float():
        return pl.when(col.is_finite() & (col == col.round(0))).then(
            col.cast(pl.Int64(), strict=False))
    elif target == pl.Float64() and source.is_numeric():
        value = col.cast(pl.Float64())
        return pl.when(value.is_finite()).then(value)
    elif target == pl.Float64() and isinstance(source, pl.Decimal):
        return col.cast(pl.Float64())
    elif isinstance(target, pl.List) and isinstance(source, pl.List):
        return col.cast(pl.List(pl.String()))
    raise ContractViolation(
        table.name, name, f"{name}_type",
        f"values are {source}, the contract wants {target}"
        + (" (identifiers must be text so leading zeros survive)"
           if target == pl.String() else ""), file)


def parse_table(table: Table | str, frame: pl.DataFrame,
                file: str | None = None) -> pl.DataFrame:
    """The contract columns with contract types, plus ``<column>__text`` for each parsed
    column: the text the value was read from (null where missing), so that a failed parse
    (text present, value null) is told apart from a missing value.

    Absent optional columns come back as nulls; extra columns are dropped.

    Raises:
        ContractViolation: a required column is absent, or a column's type cannot be
            converted at all.
    """
    table = _table(table)
    check_schema(table, frame.schema, file)
    exprs: list[pl.Expr] = []
    for col in table.columns:
        source = frame.schema.get(col.name, pl.Null())
        exprs.append(_convert(table, col.name, source, col.dtype, file)
                     .cast(col.dtype).alias(col.name))
        if col.dtype != pl.String():
            exprs.append(_text_of(col.name, source).alias(col.name + TEXT_SUFFIX))
    padded = frame.with_columns(
        [pl.lit(None).alias(c.name) for c in table.columns if c.name not in frame.columns])
    return padded.select(exprs)


def rule_flags(table: Table | str, parsed: pl.DataFrame,
               known: Mapping[str, pl.Series] | None = None) -> pl.DataFrame:
    """One Boolean column per rule, true where the row breaks it, in one pass.

    ``parsed`` comes from :func:`parse_table`. ``known`` maps a referenced table name to
    its known key values (``{"sponsors": sponsor_ids}``); references to tables not in
    ``known`` are not checked.
    """
    table = _table(table)
    unparseable = {c: pl.col(c + TEXT_SUFFIX).is_not_null() & pl.col(c).is_null()
                   for c in parsed_columns(table)}
    exprs = [unparseable[c].alias(parse_rule_name(c)) for c in unparseable]
    for rule in row_rules(table):
        flag = rule.violation().fill_null(False)
        if rule.kind == "not_null" and rule.columns[0] in unparseable:
            # an unparseable value breaks `_parseable`, not `_not_null`
            flag = flag & ~unparseable[rule.columns[0]]
        exprs.append(flag.alias(rule.name))
    exprs.append(key_rule(table).violation().fill_null(False).alias(key_rule(table).name))
    for ref in table.references:
        if known is not None and ref.to_table in known:
            values = known[ref.to_table]
            exprs.append((pl.col(ref.column).is_not_null()
                          & ~pl.col(ref.column).is_in(values.implode()))
                         .alias(reference_rule_name(ref)))
    return parsed.select(exprs)


def broken_rules_list(flags: pl.DataFrame) -> pl.Series:
    """Per row, the names of the rules it breaks (empty list when none)."""
    return flags.select(pl.concat_list(
        [pl.when(pl.col(n)).then(pl.lit(n)) for n in flags.columns]
    ).list.drop_nulls().alias(RULES_BROKEN)).to_series()


def as_text(table: Table, frame: pl.DataFrame) -> pl.DataFrame:
    """The contract columns of ``frame`` as text, as they were delivered (absent ones null)."""
    return frame.select([
        (_raw_text(c.name, frame.schema[c.name]) if c.name in frame.columns
         else pl.lit(None, dtype=pl.String())).alias(c.name) for c in table.columns])


def _raw_text(name: str, dtype: pl.DataType) -> pl.Expr:
    if isinstance(dtype, pl.List):
        return pl.col(name).cast(pl.List(pl.String())).list.join(LIST_SEPARATOR)
    return pl.col(name).cast(pl.String())


def validate_rows(table: Table | str, frame: pl.DataFrame,
                  known: Mapping[str, pl.Series] | None = None,
                  file: str | None = None) -> ValidatedRows:
    """Split ``frame`` into clean rows and quarantined rows by every row-level rule.

    Every input row lands in exactly one of the two. Clean rows have exactly the contract
    columns and types; quarantined rows keep the delivered text of the contract columns,
    the ``_source*`` columns of the input, and ``_rules_broken``.

    Raises:
        ContractViolation: for a table-level problem (see :func:`parse_table`).
    """
    table = _table(table)
    return split_rows(table, frame, parse_table(table, frame, file), known)


def split_rows(table: Table, frame: pl.DataFrame, parsed: pl.DataFrame,
               known: Mapping[str, pl.Series] | None = None) -> ValidatedRows:
    """:func:`validate_rows` for a frame already parsed by :func:`parse_table`."""
    flags = rule_flags(table, parsed, known)
    # never empty: every table has a key rule
    bad = flags.select(pl.any_horizontal(pl.all()).alias("bad")).to_series()
    return ValidatedRows(parsed.select(table.column_names).filter(~bad),
                         _quarantined(table, frame, flags, bad))


def _quarantined(table: Table, frame: pl.DataFrame, flags: pl.DataFrame,
                 bad: pl.Series, carry: tuple[str, ...] = ()) -> pl.DataFrame:
    source_cols = [c for c in frame.columns if c.startswith(SOURCE_PREFIX) or c in carry]
    return pl.concat(
        [as_text(table, frame.filter(bad)), frame.filter(bad).select(source_cols),
         broken_rules_list(flags.filter(bad)).to_frame()], how="horizontal")


class TriagedRows(NamedTuple):
    """Rows judged for ingest, where a row whose only fault is a reference is held.

    ``clean`` as in :class:`ValidatedRows`; ``held`` rows with contract types and the
    ``_source*`` columns of the input (they break only reference rules: the referenced
    row is unknown); ``quarantined`` as in :class:`ValidatedRows`; ``quarantine_mask``
    true per input row that was quarantined; ``broken`` the number of rows (held or
    quarantined) breaking each rule.
    """

    clean: pl.DataFrame
    held: pl.DataFrame
    quarantined: pl.DataFrame
    quarantine_mask: pl.Series
    broken: dict[str, int]


def triage_rows(table: Table, frame: pl.DataFrame, parsed: pl.DataFrame,
                known: Mapping[str, pl.Series] | None = None,
                carry: tuple[str, ...] = ()) -> TriagedRows:
    """Split a parsed frame (see :func:`parse_table`) into clean, held and quarantined
    rows. A row breaking a reference rule and no other is held, not quarantined: the
    contract's grounds for quarantine name the row's own values, and a row whose
    referenced sponsor is unknown or quarantined waits for that sponsor. A row breaking
    another rule as well is quarantined (with every rule it breaks). Columns of ``frame``
    named in ``carry`` go with held and quarantined rows, as the ``_source*`` ones do."""
    flags = rule_flags(table, parsed, known)
    references = [reference_rule_name(r) for r in table.references
                  if reference_rule_name(r) in flags.columns]
    own = [c for c in flags.columns if c not in references]
    bad = flags.select(pl.any_horizontal(own)).to_series()
    waiting = (flags.select(pl.any_horizontal(references)).to_series() & ~bad
               if references else pl.Series([False] * flags.height, dtype=pl.Boolean()))
    typed = parsed.select(table.column_names)
    source_cols = [c for c in frame.columns if c.startswith(SOURCE_PREFIX) or c in carry]
    held = pl.concat([typed.filter(waiting), frame.filter(waiting).select(source_cols)],
                     how="horizontal")
    counts = flags.select(pl.all().cast(pl.Int64()).sum()).row(0, named=True)
    return TriagedRows(typed.filter(~bad & ~waiting), held,
                       _quarantined(table, frame, flags, bad, carry), bad,
                       {rule: int(n) for rule, n in sorted(counts.items()) if n})


def warning_flags(table: Table | str, parsed: pl.DataFrame) -> pl.DataFrame:
    """One Boolean column per warning of the table (``Table.warnings``: lawful but
    unusual, counted, never grounds for quarantine), true where a row shows it."""
    table = _table(table)
    return parsed.select([w.violation().fill_null(False).alias(w.name) for w in table.warnings])


def rule_counts(quarantined: pl.DataFrame) -> dict[str, int]:
    """How many quarantined rows break each rule."""
    if quarantined.height == 0:
        return {}
    counts = quarantined.select(pl.col(RULES_BROKEN).explode()).to_series().value_counts()
    return {str(name): int(n) for name, n in counts.sort(RULES_BROKEN).iter_rows()}


__all__ = ["ContractViolation", "RULES_BROKEN", "Rule", "TriagedRows", "ValidatedRows",
           "parse_table", "rule_counts", "rule_flags", "rule_names", "split_rows",
           "triage_rows", "validate_rows", "warning_flags"]
