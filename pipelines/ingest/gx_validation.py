"""great-expectations validation of one table with its suite, reduced to what the report
and the tests need (:class:`TableValidation`). Runs in the GX worker process
(:mod:`.gx_worker`); the suites themselves come from :mod:`.gx_suites`.

``great_expectations`` is imported inside functions only: it takes seconds to import.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import polars as pl

from sponsorwatch.contract import Table, restricted_columns

from .gx_suites import build_suite_dict, quiet_gx


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


#: Counts and a few example values: polars already knows each row a rule quarantines.
RESULT_FORMAT = {"result_format": "BASIC", "partial_unexpected_count": 5}


def start_gx() -> tuple[Any, Any]:
    """An in-memory GX context (no progress bars) and its pandas data source."""
    quiet_gx()
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


