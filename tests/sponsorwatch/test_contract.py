"""The contract in code matches the contract document and behaves as declared."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from sponsorwatch.contract import PERMITS, SPONSORS, TABLES, key_rule, row_rules


def _documented_columns(contract_doc: Path, table: str) -> list[str]:
    text = contract_doc.read_text(encoding="utf-8")
    section = text.split(f"### {table} ")[1].split("###")[0]
    return [line.split("|")[1].strip() for line in section.splitlines()
            if line.startswith("| ") and not line.startswith("| column")]


@pytest.mark.parametrize("table", list(TABLES))
def test_columns_match_the_contract_document(contract_doc: Path, table: str) -> None:
    assert TABLES[table].column_names == _documented_columns(contract_doc, table)


def test_only_nationality_is_restricted() -> None:
    restricted = [(t.name, c.name) for t in TABLES.values() for c in t.columns if c.restricted]
    assert restricted == [("permits", "nationality")]


def _broken(table, rows: list[dict]) -> list[set[str]]:
    frame = pl.DataFrame(rows, schema=table.schema)
    rules = row_rules(table)
    flags = frame.select([r.violation().fill_null(False).alias(r.name) for r in rules])
    return [{name for name, bad in row.items() if bad} for row in flags.to_dicts()]


def test_row_rules_flag_exactly_the_broken_rows() -> None:
    good = dict(sponsor_id="01234567", name='Café "Zon", B.V. 🌞', legal_form="BV",
                sbi_code="6201", postcode4="1012", address_key="a1",
                founded_on=dt.date(2010, 1, 1), recognised_on=dt.date(2012, 1, 1),
                recognition_ended_on=None, recognition_end_reason=None)
    rows = [good,
            {**good, "sponsor_id": "1234567"},
            {**good, "legal_form": "LTD"},
            {**good, "recognised_on": dt.date(2009, 1, 1)},
            {**good, "recognition_end_reason": "REVOKED"},
            {**good, "postcode4": None}]
    assert _broken(SPONSORS, rows) == [
        set(), {"sponsor_id_format"}, {"legal_form_in_set"},
        {"recognised_on_not_before_founded_on"},
        {"recognition_end_reason_present_exactly_when_recognition_ended_on"}, set()]


def test_strict_minimum_and_ranges() -> None:
    base = dict(application_id="a", sponsor_id="01234567", person_key="p", scheme="KM_REGULAR",
                submitted_on=dt.date(2020, 1, 1), decided_on=None, decision="PENDING",
                age_at_submission=30, declared_monthly_salary=5000.0,
                declared_weekly_hours=40.0, isco_code="2512", valid_from=None,
                valid_until=None, nationality="IND")
    rows = [base, {**base, "declared_monthly_salary": 0.0}, {**base, "age_at_submission": 81},
            {**base, "decided_on": dt.date(2020, 2, 1)}]
    assert _broken(PERMITS, rows) == [
        set(), {"declared_monthly_salary_in_range"}, {"age_at_submission_in_range"},
        {"decision_pending_exactly_when_decided_on_null"}]


def test_key_rule_marks_every_duplicate() -> None:
    frame = pl.DataFrame({"application_id": ["a", "b", "a"]})
    assert frame.select(key_rule(PERMITS).violation())["application_id"].to_list() == [
        True, False, True]
