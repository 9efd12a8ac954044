"""The online path scores one sponsor from its own records: few rows, missing tables."""

from __future__ import annotations

import datetime as dt

import polars as pl

from features.build import build_features
from features.registry import feature_names
from sponsorwatch.thresholds import load_thresholds
from tests.features.world import D, World, months


def test_one_sponsor_with_only_some_tables() -> None:
    w = World().sponsor("10000001")
    w.permit("10000001", "x", submitted_on=D(2023, 1, 1), salary=5200)
    w.pay("10000001", "x", months(D(2023, 3, 1), 9), 5200)
    frames = w.frames()
    tables = {name: frames[name] for name in ("sponsors", "permits", "payroll")}
    out = build_features(tables, D(2024, 1, 15), load_thresholds()).collect()
    assert out.height == 1 and out.columns[2:] == feature_names(True)
    row = out.row(0, named=True)
    assert row["salary_ratio_median"] == 5200 / 5008
    assert row["past_inspections"] == 0 and row["workforce_gap_share"] == 1.0


def test_records_as_json_like_rows_with_loose_types() -> None:
    """Rows as a JSON body gives them: dates as text, integers where floats are due,
    optional columns left out."""
    sponsors = pl.LazyFrame([{
        "sponsor_id": "10000001", "name": "A", "legal_form": "BV", "sbi_code": "6201",
        "founded_on": "2012-03-01", "recognised_on": "2016-05-01"}])
    permits = pl.LazyFrame([{
        "application_id": "A1", "sponsor_id": "10000001", "person_key": "x",
        "scheme": "KM_REGULAR", "submitted_on": "2023-01-01", "decided_on": "2023-02-01",
        "decision": "GRANTED", "age_at_submission": 35, "declared_monthly_salary": 6000,
        "declared_weekly_hours": 40, "isco_code": "2512", "valid_from": "2023-02-01",
        "valid_until": "2028-02-01"}])
    out = build_features({"sponsors": sponsors, "permits": permits}, dt.date(2024, 1, 15),
                         load_thresholds()).collect()
    row = out.row(0, named=True)
    assert row["declared_ratio_median"] == 6000 / 5008  # KM_REGULAR from 2023-01-01
    assert row["company_age_years"] > 11


def test_a_malformed_date_is_an_error_not_a_null() -> None:
    import pytest

    sponsors = pl.LazyFrame([{"sponsor_id": "10000001", "name": "A", "legal_form": "BV",
                              "sbi_code": "6201", "founded_on": "2012-03-01",
                              "recognised_on": "1 May 2016"}])
    with pytest.raises(pl.exceptions.InvalidOperationError):
        build_features({"sponsors": sponsors}, dt.date(2024, 1, 15),
                       load_thresholds()).collect()
