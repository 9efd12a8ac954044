"""The human-readable validation report (Markdown), written next to the manifest.

Per table: rows in, clean, held, quarantined; then every GX expectation's result beside
the number of rows the polars flags found breaking the same rule, so a reader sees at
once that both agree (or where they do not); then the table's warnings. Before the
tables: where recorded_on was derived (history may leak) and the rows held per sponsor.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sponsorwatch.contract import TABLES

from .gx_validation import TableValidation
from .held import TOP_SPONSORS
from .register import RegisterFindings
from .rules import CheckedTable

#: What the columns GX validates beside the contract's own hold (see ``gx_frame``).
COLUMN_LEGEND = (
    "GX validates each table's columns as parsed, plus `<column>__text_length` (length "
    "of the text delivered for a parsed column, empty where none was), `<column>__text` "
    "(that text, where a regex reads it) and `<column>__row_in_<table>` (the row of the "
    "referenced table holding the value, empty where none does).")


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", "\\n")


def _table_section(name: str, counts: Mapping[str, Any], checked: CheckedTable | None,
                   validation: TableValidation | None) -> list[str]:
    broken = checked.broken if checked is not None else {}
    lines = [f"## {name}", "",
             f"rows in {counts['rows_in']:,} = clean {counts['clean']:,} + held "
             f"{counts['held']:,} + quarantined {counts['quarantined']:,}; warehouse now "
             f"{counts['warehouse_rows']:,} rows ({counts['superseded']:,} superseded)", ""]
    if TABLES[name].references and (counts["released"] or counts["held_now"]
                                    or counts["held_superseded"]):
        lines += [f"held before this ingest: {counts['released']:,} released into the "
                  f"warehouse, {counts['held_superseded']:,} replaced by a row of this "
                  f"delivery, {counts['released_quarantined']:,} quarantined when validated "
                  f"again; held now {counts['held_now']:,}", ""]
    if validation is None:
        lines += ["great-expectations: not run for this table.", ""]
    else:
        gx_counts = validation.unexpected_by_rule()
        verdict = "passed" if validation.success else "FAILED"
        lines += [f"great-expectations suite `{validation.suite}`: {verdict}", "",
                  "| rule | expectation | columns | checked | unexpected (GX) "
                  "| rows breaking it (polars) | examples |",
                  "|---|---|---|---:|---:|---:|---|"]
        for o in validation.outcomes:
            unexpected = "error: " + o.error if o.error else o.unexpected_count
            if o.kind == "table":
                unexpected = "present" if o.success else "MISSING"
            lines.append("| " + " | ".join(_cell(v) for v in (
                o.rule, o.expectation, ", ".join(o.columns), o.element_count, unexpected,
                broken.get(o.rule, 0) if o.kind != "table" else "",
                "; ".join(o.examples))) + " |")
        disagree = sorted(r for r in set(gx_counts) | set(broken)
                          if r not in validation.polars_enforced
                          and gx_counts.get(r, 0) != broken.get(r, 0))
        lines.append("")
        if validation.polars_enforced:
            lines.append("Checked by polars only (no GX expectation fits): "
                         + ", ".join(f"`{r}`" for r in validation.polars_enforced))
        lines.append("GX and polars agree on every rule." if not disagree else
                     "GX and polars DISAGREE on: " + ", ".join(disagree))
        lines.append("")
    if broken:
        lines += ["Rows breaking each rule (a row may break several; a row breaking only "
                  "a reference is held, any other is quarantined): "
                  + ", ".join(f"`{r}` {n:,}" for r, n in sorted(broken.items())), ""]
    if checked is not None and checked.warnings:
        lines += _warning_lines(checked)
    return lines


def _warning_lines(checked: CheckedTable) -> list[str]:
    lines = ["Warnings: lawful but unusual, counted, never quarantined (rows not "
             "quarantined; up to 5 source rows each)", "",
             "| warning | what | rows | examples |", "|---|---|---:|---|"]
    for rule in checked.table.warnings:
        examples = "; ".join(
            f"{e['file']} row {e['row']}" + (f" (line {e['line']})" if e["line"] else "")
            for e in checked.warning_examples.get(rule.name, []))
        lines.append("| " + " | ".join(_cell(v) for v in (
            rule.name, rule.description, f"{checked.warnings.get(rule.name, 0):,}",
            examples)) + " |")
    return [*lines, ""]


def _knowledge_time_lines(manifest: Mapping[str, Any]) -> list[str]:
    notes = manifest.get("knowledge_time") or {}
    if not notes:
        return []
    return ["## Knowledge time", "", *(f"- {line}" for line in notes.values()), ""]


def _held_lines(manifest: Mapping[str, Any]) -> list[str]:
    summary = manifest["held"]
    lines = ["## Held rows", ""]
    if not summary["total"]:
        return [*lines, "No row is held: every row's sponsor is in the warehouse.", ""]
    lines += [f"{summary['total']:,} rows of {summary['sponsors']:,} sponsors are held in "
              "`held/<table>.parquet`, waiting for a delivery with a valid version of "
              "their sponsor: "
              + ", ".join(f"{t} {n:,}" for t, n in summary["by_table"].items()) + "; "
              + ", ".join(f"{r}: {n:,}" for r, n in summary["by_reason"].items()) + ".", "",
              f"Held rows per sponsor, most first ({len(summary['top_sponsors'])} of "
              f"{summary['sponsors']:,} sponsors shown, at most {TOP_SPONSORS}):", "",
              "| sponsor_id | held rows | tables | reason |", "|---|---:|---|---|"]
    lines += ["| " + " | ".join(_cell(v) for v in (
        s["sponsor_id"], f"{s['rows']:,}", ", ".join(s["tables"]), "; ".join(s["reasons"])))
        + " |" for s in summary["top_sponsors"]]
    return [*lines, ""]


def register_section(findings: RegisterFindings) -> list[str]:
    lines = ["## Register check", "",
             f"Register `{findings.register_file}`: {findings.entries:,} entries, "
             f"{findings.with_kvk:,} with a KvK number "
             f"({findings.kvk_starting_with_zero:,} beginning with 0).", ""]
    if findings.entries_without_kvk:
        lines.append(f"- {len(findings.entries_without_kvk)} entries without a KvK number: "
                     + "; ".join(f"`{_cell(n)}`" for n in findings.entries_without_kvk))
    if findings.malformed_kvk:
        lines.append(f"- {len(findings.malformed_kvk)} KvK numbers that are not 8 digits: "
                     + ", ".join(_cell(e["kvk"]) for e in findings.malformed_kvk[:20]))
    if findings.duplicate_kvk:
        lines.append(f"- {len(findings.duplicate_kvk)} KvK numbers listed more than once: "
                     + ", ".join(findings.duplicate_kvk[:20]))
    if findings.sponsors_not_on_register is not None:
        lines.append(f"- {findings.sponsors_not_on_register:,} of {findings.extract_sponsors:,} "
                     "sponsors in the extract are not on the register"
                     + (": " + ", ".join(findings.sponsors_not_on_register_examples)
                        + (" ..." if findings.sponsors_not_on_register
                           > len(findings.sponsors_not_on_register_examples) else "")
                        if findings.sponsors_not_on_register else ""))
    lines.append("")
    return lines


def render_report(manifest: Mapping[str, Any], validations: Mapping[str, TableValidation],
                  checked: Mapping[str, CheckedTable],
                  register: RegisterFindings | None) -> str:
    """The Markdown report of one ingest run."""
    warnings = manifest.get("warnings", {})
    lines = [f"# Ingest report: {manifest['extract']}", "",
             f"Ingested {manifest['ingested_at']} under contract version "
             f"{manifest['contract_version']} into warehouse version "
             f"{manifest['warehouse_version']}; great-expectations "
             f"{manifest['validation']['great_expectations_version'] or 'not run'}.", "",
             "| table | in | clean | held | quarantined | warnings | warehouse rows |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, counts in manifest["tables"].items():
        lines.append(f"| {name} | {counts['rows_in']:,} | {counts['clean']:,} | "
                     f"{counts['held']:,} | {counts['quarantined']:,} | "
                     f"{sum(warnings.get(name, {}).values()):,} | "
                     f"{counts['warehouse_rows']:,} |")
    lines.append("")
    lines += _knowledge_time_lines(manifest) + _held_lines(manifest)
    if validations:
        lines += [COLUMN_LEGEND, ""]
    for name, counts in manifest["tables"].items():
        if counts["delivered"] or counts["released"] or counts["released_quarantined"]:
            lines += _table_section(name, counts, checked.get(name), validations.get(name))
    if register is not None:
        lines += register_section(register)
    return "\n".join(lines).rstrip() + "\n"
