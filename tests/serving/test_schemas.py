"""The records request schema: rows are checked by type, handed on as plain dicts, and
documented column by column from the contract."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from serving.schemas import RecordsRequest
from sponsorwatch.contract import TABLES


def test_records_rows_arrive_as_typed_dicts_without_unknown_columns() -> None:
    request = RecordsRequest.model_validate({"tables": {
        "sponsors": [{"sponsor_id": "12345678", "founded_on": "2020-01-02", "colour": "red"}],
        "payroll": []}})
    assert request.table_rows() == {
        "sponsors": [{"sponsor_id": "12345678", "founded_on": date(2020, 1, 2)}],
        "payroll": []}


def test_records_value_of_the_wrong_type_is_refused_at_its_place() -> None:
    with pytest.raises(ValidationError) as refused:
        RecordsRequest.model_validate(
            {"tables": {"sponsors": [{"sponsor_id": "12345678", "founded_on": "yesterday"}]}})
    assert [e["loc"] for e in refused.value.errors()] == [
        ("tables", "sponsors", 0, "founded_on")]


def test_records_row_schemas_document_every_contract_column() -> None:
    definitions = RecordsRequest.model_json_schema()["$defs"]
    for name, table in TABLES.items():
        row = definitions["".join(part.title() for part in name.split("_")) + "Row"]
        assert row["description"] == table.description
        assert list(row["properties"]) == table.column_names
        assert all(column.get("description") for column in row["properties"].values())
        assert "required" not in row, "missing values are the contract's not_null rule"
