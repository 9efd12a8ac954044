"""Quarantine on the contract's grounds only: every rule that can quarantine a row is
stated on the contract's page (types, nullability, enums, keys, ranges and the
cross-field rules in the tables); what the page does not state is a counted warning."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sponsorwatch.contract import TABLES, Rule, Table, key_rule, row_rules
from sponsorwatch.validation import parsed_columns, reference_rule_name, rule_names


def _section(doc: str, table: str) -> str:
    return doc.split(f"### {table} ")[1].split("###")[0]


def _rows(doc: str, table: str) -> dict[str, tuple[str, str, str]]:
    """Per documented column: its type, null and meaning cells, in lower case."""
    rows = {}
    for line in _section(doc, table).splitlines():
        cells = [c.strip() for c in line.split("|")[1:-1]]
        if line.startswith("| ") and cells[0] != "column":
            rows[cells[0]] = tuple(c.lower() for c in cells[1:4])
    return rows  # type: ignore[return-value]


def _stated(doc: str, table: Table, rule: Rule) -> bool:
    """Whether the page states ``rule`` where it documents the rule's columns."""
    rows = _rows(doc, table.name)
    text = " ".join(" ".join(rows[c]) for c in rule.columns)
    cols = rule.columns
    if rule.kind == "not_null":
        return rows[cols[0]][1] == "no"
    if rule.kind == "in_set":
        return "enum" in rows[cols[0]][0]
    if rule.kind == "between":
        return bool(re.search(r">=? 0|\d+ to \d+|in \(0, 1\]", rows[cols[0]][0]))
    if rule.kind == "regex":
        return bool(re.search(r"digits|iso 3166|1000 to 9999", rows[cols[0]][0]))
    if "as in payroll" in text:  # workforce.filed_on
        return _stated(doc, TABLES["payroll"], rule)
    name = rule.name
    checks = {
        f"{cols[0]}_not_before_{cols[-1]}": f"not before {cols[-1]}",
        f"{cols[0]}_first_of_month": "first of month",
        f"{cols[0]}_present_exactly_when_{cols[-1]}": "present exactly when",
        "validity_present_when_granted": "present when granted",
        "valid_until_after_valid_from": "after valid_from",
    }
    if name in checks:
        return checks[name] in text or (name == f"{cols[0]}_not_before_{cols[-1]}"
                                        and "not before the period's first day" in text)
    match = re.fullmatch(rf"{cols[0]}_(\w+)_exactly_when_{cols[1]}_null", name)
    return bool(match) and f"{match.group(1)} exactly when {cols[1]} is null" in text


@pytest.mark.parametrize("name", list(TABLES))
def test_every_rule_that_quarantines_is_stated_on_the_contract_page(
        contract_doc: Path, name: str) -> None:
    doc = contract_doc.read_text(encoding="utf-8")
    table = TABLES[name]
    unstated = [r.name for r in row_rules(table) if not _stated(doc, table, r)]
    assert unstated == [], f"{name}: not on the contract page, make them warnings"
    # keys: the table's heading; types: every parsed column is documented with its type
    key = re.search(r"\(key: ([^)]*)\)", doc.split(f"### {name} ")[1]).group(1)
    assert tuple(k.strip() for k in key.split(",")) == table.key == tuple(key_rule(table).columns)
    rows = _rows(doc, name)
    for column in parsed_columns(table):
        assert re.search(r"date|integer|decimal|boolean|list", rows[column][0]), column
    # references: a row whose sponsor is unknown is held, never quarantined for it alone
    assert "referenced sponsor is unknown or itself quarantined is held" in " ".join(
        doc.split())
    assert [reference_rule_name(r) for r in table.references] == (
        ["sponsor_id_known_in_sponsors"] if name != "sponsors" else [])


@pytest.mark.parametrize("name", list(TABLES))
def test_warnings_are_never_rules(name: str) -> None:
    rules = set(rule_names(TABLES[name]))
    assert not {w.name for w in TABLES[name].warnings} & rules


def test_what_the_page_does_not_state_is_a_warning() -> None:
    assert {t: [w.name for w in TABLES[t].warnings] for t in TABLES if TABLES[t].warnings} == {
        "permits": ["decided_before_submitted"], "notifications": ["filed_before_event"]}
