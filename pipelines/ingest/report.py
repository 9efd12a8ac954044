"""The human-readable validation report (Markdown), written next to the manifest.

Per table: rows in, clean, quarantined; then every GX expectation's result beside the
number of rows the polars flags quarantined for the same rule, so a reader sees at once
that both agree (or where they do not).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .gx_suites import TableValidation
from .register import RegisterFindings

#: What the columns GX validates beside the contract's own hold (see ``gx_frame``).
COLUMN_LEGEND = (
    "GX validates each table's columns as parsed, plus `<column>__text_length` (length "
    "of the text delivered for a parsed column, empty where none was), `<column>__text` "
    "(that text, where a regex reads it) and `<column>__row_in_<table>` (the row of the "
    "referenced table holding the value, empty where none does).")


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", "\\n")


def _table_section(name: str, counts: Mapping[str, Any], broken: Mapping[str, int],
                   validation: TableValidation | None) -> list[str]:
    lines = [f"## {name}", "",
             f"rows in {counts['rows_in']:,} = clean {counts['clean']:,} + quarantined "
             f"{counts['quarantined']:,}; warehouse now {counts['warehouse_rows']:,} rows "
             f"({counts['superseded']:,} superseded)", ""]
    if validation is None:
        lines += ["great-expectations: not run for this table.", ""]
    else:
        gx_counts = validation.unexpected_by_rule()
        verdict = "passed" if validation.success else "FAILED"
        lines += [f"great-expectations suite `{validation.suite}`: {verdict}", "",
                  "| rule | expectation | columns | checked | unexpected (GX) "
                  "| rows quarantined for it (polars) | examples |",
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
        lines += ["Quarantined rows per rule (a row may break several): "
                  + ", ".join(f"`{r}` {n:,}" for r, n in sorted(broken.items())), ""]
    return lines


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
                  broken: Mapping[str, Mapping[str, int]],
                  register: RegisterFindings | None) -> str:
    """The Markdown report of one ingest run."""
    lines = [f"# Ingest report: {manifest['extract']}", "",
             f"Ingested {manifest['ingested_at']} under contract version "
             f"{manifest['contract_version']}; great-expectations "
             f"{manifest['validation']['great_expectations_version'] or 'not run'}.", "",
             "| table | in | clean | quarantined | warehouse rows |",
             "|---|---:|---:|---:|---:|"]
    for name, counts in manifest["tables"].items():
        lines.append(f"| {name} | {counts['rows_in']:,} | {counts['clean']:,} | "
                     f"{counts['quarantined']:,} | {counts['warehouse_rows']:,} |")
    lines.append("")
    if validations:
        lines += [COLUMN_LEGEND, ""]
    for name, counts in manifest["tables"].items():
        if counts.get("delivered", True):
            lines += _table_section(name, counts, broken.get(name, {}), validations.get(name))
    if register is not None:
        lines += register_section(register)
    return "\n".join(lines).rstrip() + "\n"
