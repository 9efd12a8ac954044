"""great-expectations 1.x suites generated from the contract, and the frame GX validates
(validation itself: :mod:`.gx_validation`).

Every row-level rule of :mod:`sponsorwatch.contract` (plus parse checks, the key rule and
references) becomes one or more GX expectations tagged ``meta.rule`` with the rule's
name. Where a rule needs several expectations, their unexpected rows are disjoint, so
their unexpected counts add up to the number of rows breaking the rule: the same count
the polars flags give. Rules no GX expectation expresses are listed in the suite's
``meta.polars_enforced``. A table's warnings (lawful but unusual, ``Table.warnings``) are
no expectation: polars counts them for the report, and a suite lists them in
``meta.warnings_counted_by_polars``, so that they never fail a GX validation.

GX validates :func:`gx_frame`, made from the parsed frame of
:func:`sponsorwatch.validation.parse_table`: contract columns with contract types,
``<column>__text_length`` beside each parsed column (``<column>__text`` too where a rule
reads the text), plus, per reference, ``<column>__row_in_<table>``: the row a left join
finds in the referenced table.

``great_expectations`` is imported inside functions only: it takes seconds to import.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import polars as pl

from sponsorwatch.contract import (
    CONTRACT_VERSION,
    TABLES,
    Reference,
    Rule,
    Table,
    key_rule,
    row_rules,
)
from sponsorwatch.validation import (
    TEXT_SUFFIX,
    parse_rule_name,
    parsed_columns,
    reference_rule_name,
)

#: Saved suites, one JSON file a table, in the repository (regenerate: `sponsorwatch
#: ingest-suites`).
SUITES_DIR = Path(__file__).resolve().parents[2] / "expectations"
#: Suffix of the column holding the length of a parsed column's text.
LENGTH_SUFFIX = "__text_length"


def suite_name(table: str) -> str:
    return f"sponsorwatch.{table}.v{CONTRACT_VERSION}"


def lookup_column(ref: Reference) -> str:
    """Column holding the row number of the key ``ref.column`` finds in the referenced
    table (null where it finds none)."""
    return f"{ref.column}__row_in_{ref.to_table}"


def length_column(column: str) -> str:
    """Column holding the length of the text a value was parsed from (null where none)."""
    return column + LENGTH_SUFFIX


def regex_read_texts(table: Table) -> list[str]:
    """Parsed columns whose text a rule reads with a regex (GX gets these texts whole)."""
    def reads_text(rule: Rule) -> bool:
        col = rule.columns[0]
        if rule.kind == "in_set":
            return isinstance(table.column(col).dtype, pl.List)
        return rule.kind == "cross_field" and rule.name == f"{col}_first_of_month"

    return [rule.columns[0] for rule in row_rules(table) if reads_text(rule)]


def _python_regex(pattern: str) -> str:
    # Python's `$` also matches before a final newline, polars' (Rust) does not
    return pattern[:-1] + r"\Z" if pattern.endswith("$") else pattern


def _delivered(column: str, table: Table) -> str:
    """The column that is null exactly where no value of ``column`` was delivered."""
    return length_column(column) if column in parsed_columns(table) else column


def _tag(rule: str, kind: str, description: str, **extra: Any) -> dict[str, Any]:
    return {"rule": rule, "kind": kind, "description": description, **extra}


def _column_expectations(table: Table, rule: Rule) -> list[Any]:
    import great_expectations.expectations as gxe

    col = rule.columns[0]
    meta = _tag(rule.name, rule.kind, rule.description)
    if rule.kind == "not_null":
        return [gxe.ExpectColumnValuesToNotBeNull(column=_delivered(col, table), meta=meta)]
    if rule.kind == "in_set":
        values = [str(v) for v in cast(list[object], rule.params["value_set"])]
        if isinstance(table.column(col).dtype, pl.List):
            one = "(?:" + "|".join(re.escape(v) for v in values) + ")"
            return [gxe.ExpectColumnValuesToMatchRegex(
                column=col + TEXT_SUFFIX, regex=rf"^{one}(?:;{one})*\Z", meta=meta)]
        return [gxe.ExpectColumnValuesToBeInSet(column=col, value_set=values, meta=meta)]
    if rule.kind == "between":
        p = rule.params
        return [gxe.ExpectColumnValuesToBeBetween(
            column=col, min_value=cast(float | None, p["min_value"]),
            max_value=cast(float | None, p["max_value"]),
            strict_min=bool(p["strict_min"]), meta=meta)]
    if rule.kind == "regex":
        return [gxe.ExpectColumnValuesToMatchRegex(
            column=col, regex=_python_regex(str(rule.params["regex"])), meta=meta)]
    raise ValueError(f"no GX translation for {rule.kind}")


def _cross_expectations(rule: Rule) -> list[Any] | None:
    """GX expectations for a cross-field rule, or None where none fits."""
    import great_expectations.expectations as gxe
    from great_expectations.expectations.row_conditions import Column

    meta = _tag(rule.name, rule.kind, rule.description)
    name, cols = rule.name, rule.columns
    if name == f"{cols[0]}_not_before_{cols[-1]}":
        later, earlier = cols
        return [gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A=later, column_B=earlier, or_equal=True,
            ignore_row_if="either_value_is_missing", meta=meta)]
    if name == "valid_until_after_valid_from":
        return [gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="valid_until", column_B="valid_from", or_equal=False,
            ignore_row_if="either_value_is_missing", meta=meta)]
    if len(cols) == 2 and name == f"{cols[0]}_present_exactly_when_{cols[1]}":
        a, b = cols
        return [gxe.ExpectColumnValuesToBeNull(column=a, row_condition=Column(b).is_null(),
                                               meta=meta),
                gxe.ExpectColumnValuesToNotBeNull(
                    column=a, row_condition=Column(b).is_not_null(), meta=meta)]
    if len(cols) == 2 and name.endswith(f"_exactly_when_{cols[1]}_null"):
        col, null_col = cols
        value = name[len(col) + 1:name.index("_exactly_when_")].upper()
        return [gxe.ExpectColumnValuesToBeInSet(
                    column=col, value_set=[value], row_condition=Column(null_col).is_null(),
                    meta=meta),
                gxe.ExpectColumnValuesToNotBeInSet(
                    column=col, value_set=[value],
                    row_condition=Column(null_col).is_not_null(), meta=meta)]
    if len(cols) == 1 and name == f"{cols[0]}_first_of_month":
        col = cols[0]
        return [gxe.ExpectColumnValuesToMatchRegex(
            column=col + TEXT_SUFFIX, regex=r"^[0-9]{4}-[0-9]{2}-01\Z",
            row_condition=Column(col).is_not_null(), meta=meta)]
    if name == "validity_present_when_granted":
        granted = Column("decision") == "GRANTED"
        # disjoint: valid_from missing; else valid_until missing
        return [gxe.ExpectColumnValuesToNotBeNull(column="valid_from", row_condition=granted,
                                                  meta=meta),
                gxe.ExpectColumnValuesToNotBeNull(
                    column="valid_until",
                    row_condition=granted & Column("valid_from").is_not_null(), meta=meta)]
    return None


def build_expectations(table: Table) -> tuple[list[Any], list[str]]:
    """The table's expectations and the names of rules left to polars."""
    import great_expectations.expectations as gxe

    expectations: list[Any] = []
    polars_only: list[str] = []
    required = [col.name for col in table.columns if not col.nullable]
    # one expectation for all, not one a column: GX's cost is per expectation
    expectations.append(gxe.ExpectTableColumnsToMatchSet(
        column_set=required, exact_match=False, meta=_tag(
            "required_column_present", "table", f"{', '.join(required)} are delivered")))
    for name in parsed_columns(table):
        expectations.append(gxe.ExpectColumnValuesToNotBeNull(
            column=name, meta=_tag(parse_rule_name(name), "parse",
                                   f"{name} parses as {table.column(name).dtype}"),
            row_condition=_present(length_column(name))))
    for rule in row_rules(table):
        found = (_cross_expectations(rule) if rule.kind == "cross_field"
                 else _column_expectations(table, rule))
        if found is None:
            polars_only.append(rule.name)
        else:
            expectations.extend(found)
    key = key_rule(table)
    meta = _tag(key.name, key.kind, key.description)
    expectations.append(
        gxe.ExpectColumnValuesToBeUnique(column=table.key[0], meta=meta) if len(table.key) == 1
        else gxe.ExpectCompoundColumnsToBeUnique(column_list=list(table.key), meta=meta))
    for ref in table.references:
        # A lookup column, not `value_set=<every known key>`: GX re-serialises an
        # expectation's kwargs hundreds of times per validation, and 12,000 sponsor ids
        # in a value set made that three quarters of GX's time.
        expectations.append(gxe.ExpectColumnValuesToNotBeNull(
            column=lookup_column(ref), row_condition=_present(ref.column),
            meta=_tag(reference_rule_name(ref), "reference",
                      f"{ref.column} exists in {ref.to_table}.{ref.to_column}")))
    return expectations, polars_only


def _present(col: str) -> Any:
    from great_expectations.expectations.row_conditions import Column

    return Column(col).is_not_null()


def build_suite_dict(table: Table) -> dict[str, Any]:
    """The table's suite as plain JSON data (what is saved under ``expectations/``)."""
    import great_expectations as gx

    expectations, polars_only = build_expectations(table)
    suite = gx.ExpectationSuite(
        name=suite_name(table.name), expectations=expectations,
        meta={"contract_version": CONTRACT_VERSION, "table": table.name,
              "generated_by": "sponsorwatch ingest-suites (pipelines.ingest.gx_suites)",
              "polars_enforced": polars_only,
              # lawful but unusual: counted by polars in the report, never a GX failure
              "warnings_counted_by_polars": {w.name: w.description for w in table.warnings},
              "lengths": {length_column(c): f"length of the text {c} was parsed from, "
                          "null where none was delivered" for c in parsed_columns(table)},
              "lookups": {lookup_column(r): f"row number in {r.to_table} of the clean "
                          f"warehouse whose {r.to_column} equals {r.column} (left join), "
                          "null where none" for r in table.references}})
    data = json.loads(json.dumps(suite.to_json_dict(), default=str))
    data.pop("id", None)
    data["meta"].pop("great_expectations_version", None)  # keeps saved files stable
    return data


def render_suite(table: Table) -> str:
    return json.dumps(build_suite_dict(table), indent=2, sort_keys=True,
                      ensure_ascii=False) + "\n"


def write_suites(folder: Path = SUITES_DIR) -> list[Path]:
    """Write one suite file per contract table; returns the paths written."""
    quiet_gx()
    from sponsorwatch.storage import write_text_atomic

    paths = []
    for table in TABLES.values():
        path = folder / f"{table.name}.json"
        write_text_atomic(render_suite(table), path)
        path.chmod(0o644)  # a file of the repository, not a private temp file
        paths.append(path)
    return paths


def quiet_gx() -> None:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


def gx_frame(table: Table, parsed: pl.DataFrame,
             known: Mapping[str, pl.Series]) -> pl.DataFrame:
    """The frame GX validates: the contract columns as parsed, :func:`length_column` of
    every parsed column, the text of :func:`regex_read_texts`, and per reference the
    :func:`lookup_column` that a left join on the referencing column fills (all null where
    the referenced table is not known).

    Lengths, not texts, where no rule reads the text, and text columns no regex reads as
    categoricals: GX's pandas engine holds plain text as one Python object a value, which
    it converts, fingerprints and compares one by one; on 1.7 million payroll rows that
    was over a third of its time (measured; the rules see the same values either way).
    """
    texts = set(regex_read_texts(table))
    regex_read = {rule.columns[0] for rule in row_rules(table) if rule.kind == "regex"}
    frame = parsed.select(
        *(pl.col(c.name).cast(pl.Categorical()) if c.dtype == pl.String()
          and c.name not in regex_read else c.name for c in table.columns),
        *(pl.col(c + TEXT_SUFFIX).str.len_chars().alias(length_column(c))
          for c in parsed_columns(table)),
        *(pl.col(c + TEXT_SUFFIX) for c in parsed_columns(table) if c in texts))
    for ref in table.references:
        dtype = frame.schema[ref.column]
        keys = known.get(ref.to_table, pl.Series(dtype=dtype)).cast(dtype).unique(
            maintain_order=True).drop_nulls()
        lookup = pl.DataFrame({ref.column: keys}).with_row_index(lookup_column(ref))
        frame = frame.join(lookup, on=ref.column, how="left", validate="m:1",
                           maintain_order="left")
    return frame


if __name__ == "__main__":
    for written in write_suites():
        print(written)
