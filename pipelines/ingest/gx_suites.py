"""great-expectations 1.x suites generated from the contract, and bulk validation.

Every row-level rule of :mod:`sponsorwatch.contract` (plus parse checks, the key rule and
references) becomes one or more GX expectations tagged ``meta.rule`` with the rule's
name. Where a rule needs several expectations, their unexpected rows are disjoint, so
their unexpected counts add up to the number of rows breaking the rule: the same count
the polars flags give. Rules no GX expectation expresses are listed in the suite's
``meta.polars_enforced``.

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
import time
from collections.abc import Mapping
from dataclasses import dataclass
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
    restricted_columns,
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
    _quiet_gx()
    from sponsorwatch.storage import write_text_atomic

    paths = []
    for table in TABLES.values():
        path = folder / f"{table.name}.json"
        write_text_atomic(render_suite(table), path)
        path.chmod(0o644)  # a file of the repository, not a private temp file
        paths.append(path)
    return paths


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation's result, reduced to what the report and the tests need."""

    rule: str
    kind: str
    expectation: str
    columns: tuple[str, ...]
    success: bool
    element_count: int | None
    unexpected_count: int | None
    examples: tuple[str, ...]
    error: str | None


@dataclass(frozen=True)
class TableValidation:
    table: str
    suite: str
    success: bool
    outcomes: tuple[ExpectationOutcome, ...]
    polars_enforced: tuple[str, ...]
    raw_result: dict[str, Any]
    #: CPU seconds this table's validation took, pandas conversion included.
    cpu_seconds: float = 0.0

    def unexpected_by_rule(self) -> dict[str, int]:
        """Rows breaking each rule according to GX (row-level rules only)."""
        counts: dict[str, int] = {}
        for o in self.outcomes:
            if o.kind != "table" and o.unexpected_count is not None:
                counts[o.rule] = counts.get(o.rule, 0) + o.unexpected_count
        return counts


def _quiet_gx() -> None:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


def _to_pandas(parsed: pl.DataFrame) -> Any:
    return parsed.to_pandas()


def _example(value: Any) -> str:
    """An unexpected value as a reader wants it (dates as days, pairs as `a vs b`)."""
    if isinstance(value, tuple | list):
        return " vs ".join(_example(v) for v in value)
    if type(value).__name__ in ("datetime64", "Timestamp", "datetime"):
        return str(value)[:10]
    return str(value)


def _outcome(result: Any, restricted: frozenset[str]) -> ExpectationOutcome:
    config = result.expectation_config
    kwargs = config.kwargs
    cols = tuple(kwargs.get("column_list") or kwargs.get("column_set") or [
        kwargs[k] for k in ("column", "column_A", "column_B") if k in kwargs])
    res = result.result or {}
    info = result.exception_info or {}
    # either one {raised_exception, exception_message} or one such dict per failed metric
    infos = [info] if "raised_exception" in info else list(info.values())
    messages = [str(i.get("exception_message")) for i in infos
                if isinstance(i, dict) and i.get("raised_exception")]
    error = "; ".join(messages) or None
    examples = () if restricted & set(cols) else tuple(
        _example(v) for v in (res.get("partial_unexpected_list") or [])[:5])
    return ExpectationOutcome(
        rule=config.meta.get("rule", ""), kind=config.meta.get("kind", ""),
        expectation=config.type, columns=cols, success=bool(result.success),
        element_count=res.get("element_count"), unexpected_count=res.get("unexpected_count"),
        examples=examples, error=error)


def _without_restricted_values(result: dict[str, Any], restricted: frozenset[str]
                               ) -> dict[str, Any]:
    """The JSON result with no value of a restricted column (nationality) in it."""
    for item in result.get("results", []):
        kwargs = item.get("expectation_config", {}).get("kwargs", {})
        if kwargs.get("column") in restricted and isinstance(item.get("result"), dict):
            item["result"] = {k: v for k, v in item["result"].items()
                              if not k.startswith("partial_unexpected")}
    return result


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


#: Counts and a few example values: polars already knows each row a rule quarantines.
RESULT_FORMAT = {"result_format": "BASIC", "partial_unexpected_count": 5}


def start_gx() -> tuple[Any, Any]:
    """An in-memory GX context (no progress bars) and its pandas data source."""
    _quiet_gx()
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context, context.data_sources.add_pandas("extract")


def validate_table(context: Any, source: Any, table: Table,
                   frame: pl.DataFrame) -> TableValidation:
    """Validate a table's :func:`gx_frame` with its suite in one GX batch (pandas, in
    memory); ``context`` and ``source`` come from :func:`start_gx`."""
    import great_expectations as gx

    cpu_started = time.process_time()
    suite_data = build_suite_dict(table)
    suite = context.suites.add(gx.ExpectationSuite(**suite_data))
    whole = source.add_dataframe_asset(table.name).add_batch_definition_whole_dataframe("whole")
    # a validation definition gets its batch once; `get_batch().validate()` gets it twice,
    # and GX fingerprints (hashes) every row of a batch each time it gets one
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=table.name, data=whole, suite=suite))
    result = definition.run(batch_parameters={"dataframe": _to_pandas(frame)},
                            result_format=RESULT_FORMAT)
    # restricted values (nationality) never reach a report, not even as examples
    restricted = frozenset(restricted_columns(table.name))
    outcomes = tuple(sorted((_outcome(r, restricted) for r in result.results),
                            key=lambda o: (o.rule, o.expectation)))
    return TableValidation(
        table.name, suite_data["name"], bool(result.success), outcomes,
        tuple(suite_data["meta"]["polars_enforced"]),
        _without_restricted_values(
            json.loads(json.dumps(result.to_json_dict(), default=str)), restricted),
        time.process_time() - cpu_started)


if __name__ == "__main__":
    for written in write_suites():
        print(written)
