"""The GX-free row validation shared by ingest and the online scoring path."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from sponsorwatch.contract import TABLES
from sponsorwatch.validation import RULES_BROKEN, ContractViolation, validate_rows

PAYROLL_TEXT = {
    "sponsor_id": ["01234567", "01234567", "01234567", "01234567", "01234567"],
    "person_key": ["p1", "p2", "p3", "p4", "p5"],
    "period": ["2024-01-01", "2024-02-30", "2024-01-01", " 2024-01-01 ", "2024-01-01"],
    "gross_wage": ["5600.50", "1", "5.000,00", "1e999", ""],
    "hours_paid": ["160", "160", "160", "160", "160"],
    "filed_on": ["2024-02-05"] * 5,
    "is_correction": ["false", "TRUE", "0", "yes", "false"],
}


def _broken(frame: pl.DataFrame, **kw: object) -> list[list[str]]:
    result = validate_rows("payroll", frame.with_row_index("_source_row"), **kw)
    return result.quarantined.sort("_source_row")[RULES_BROKEN].to_list()


def test_text_is_parsed_per_value_and_a_bad_value_breaks_only_its_parse_rule() -> None:
    assert _broken(pl.DataFrame(PAYROLL_TEXT)) == [
        ["period_parseable"],  # 30 February
        ["gross_wage_parseable"],  # Dutch thousands separator
        ["gross_wage_parseable", "is_correction_parseable"],  # infinity; "yes"
        ["gross_wage_not_null"],  # blank is missing, not unparseable
    ]


def test_typed_and_text_frames_give_the_same_clean_rows() -> None:
    text = pl.DataFrame({k: v[:1] for k, v in PAYROLL_TEXT.items()})
    typed = pl.DataFrame({
        "sponsor_id": ["01234567"], "person_key": ["p1"], "period": [dt.date(2024, 1, 1)],
        "gross_wage": [5600.5], "hours_paid": [160], "filed_on": [dt.datetime(2024, 2, 5)],
        "is_correction": [False]})
    from_text, from_typed = validate_rows("payroll", text), validate_rows("payroll", typed)
    assert from_text.clean.equals(from_typed.clean)
    assert from_text.clean.schema == TABLES["payroll"].schema


def test_not_a_number_in_a_typed_column_is_unparseable() -> None:
    typed = pl.DataFrame({**{k: v[:1] for k, v in PAYROLL_TEXT.items()},
                          "gross_wage": [float("nan")]})
    assert _broken(typed) == [["gross_wage_parseable"]]


def test_references_are_checked_only_against_what_is_known() -> None:
    frame = pl.DataFrame({k: v[:1] for k, v in PAYROLL_TEXT.items()})
    assert _broken(frame) == []
    assert _broken(frame, known={"sponsors": pl.Series(["99999999"])}) == [
        ["sponsor_id_known_in_sponsors"]]


@pytest.mark.parametrize(("change", "rule"), [
    (lambda f: f.drop("period"), "required_column_present"),
    (lambda f: f.with_columns(pl.lit(1234567).alias("sponsor_id")), "sponsor_id_type"),
    (lambda f: f.with_columns(pl.lit(True).alias("period")), "period_type"),
])
def test_table_level_problems_raise_naming_column_and_rule(change, rule: str) -> None:
    frame = pl.DataFrame({k: v[:1] for k, v in PAYROLL_TEXT.items()})
    with pytest.raises(ContractViolation) as caught:
        validate_rows("payroll", change(frame), file="request")
    assert caught.value.rule == rule and "request" in str(caught.value)


def test_missing_optional_columns_and_extras_are_fine() -> None:
    frame = pl.DataFrame({"notification_id": ["N1"], "sponsor_id": ["01234567"],
                          "kind": ["JOB_CHANGED"], "event_on": ["2024-01-01"],
                          "filed_on": ["2024-01-02"], "note": ["extra"]})
    result = validate_rows("notifications", frame)
    assert result.quarantined.height == 0
    assert result.clean.columns == TABLES["notifications"].column_names
    assert result.clean["person_key"].to_list() == [None]
