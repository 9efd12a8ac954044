from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from sponsorwatch.thresholds import load_thresholds, threshold_on, with_threshold_in_force


def test_shipped_table_has_every_scheme_from_2015_to_2026() -> None:
    table = load_thresholds()
    years = table.group_by("scheme").agg(pl.col("valid_from").dt.year().n_unique())
    assert dict(years.iter_rows()) == {s: 12 for s in
                                       ("KM_REGULAR", "KM_UNDER_30", "KM_REDUCED",
                                        "EU_BLUE_CARD")}


def test_blue_card_changed_mid_2024() -> None:
    table = load_thresholds()
    assert threshold_on(table, "EU_BLUE_CARD", dt.date(2024, 6, 11)) == 6245
    assert threshold_on(table, "EU_BLUE_CARD", dt.date(2024, 6, 12)) == 5331
    assert threshold_on(table, "KM_REGULAR", dt.date(2014, 12, 31)) is None


def test_in_force_join_uses_latest_start_on_or_before_the_day() -> None:
    days = pl.LazyFrame({"day": [dt.date(2026, 1, 1), dt.date(2025, 12, 31)],
                         "scheme": ["KM_UNDER_30", "KM_UNDER_30"]})
    out = with_threshold_in_force(days, load_thresholds(), "day").collect().sort("day")
    assert out["threshold"].to_list() == [4171.0, 4357.0]


def test_operator_can_add_a_year_without_code(tmp_path: Path) -> None:
    extended = tmp_path / "thresholds.csv"
    text = Path(load_thresholds.__globals__["shipped_thresholds_path"]()).read_text()
    extended.write_text(text + "2027-01-01,KM_REGULAR,6100\n")
    assert threshold_on(load_thresholds(extended), "KM_REGULAR", dt.date(2027, 3, 1)) == 6100


def test_bad_threshold_file_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("valid_from,scheme,monthly_threshold\n2027-01-01,KM_OTHER,1\n")
    with pytest.raises(ValueError, match="bad.csv"):
        load_thresholds(bad)
