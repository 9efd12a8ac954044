"""Held rows: a row whose sponsor is unknown or quarantined is kept with its reason and
enters the warehouse when a later delivery brings a valid version of that sponsor; rows
in = clean + held + quarantined; lawful but unusual rows are counted, never quarantined."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from ingest_extracts import TWIN_SPONSOR, clean_rows, pay, sponsor, write_damaged, write_extract

from pipelines.ingest.pipeline import IngestResult, ingest
from sponsorwatch.contract import TABLES
from sponsorwatch.storage import read_manifest


def _held(warehouse: Path, table: str = "payroll") -> pl.DataFrame:
    return pl.read_parquet(warehouse / "held" / f"{table}.parquet")


def _payroll(warehouse: Path) -> pl.DataFrame:
    return pl.read_parquet(warehouse / "payroll.parquet")


@pytest.fixture
def damaged(tmp_path: Path) -> tuple[Path, IngestResult]:
    write_damaged(tmp_path / "extract-1")
    result = ingest(tmp_path / "extract-1", tmp_path / "warehouse", run_gx=False)
    return tmp_path / "warehouse", result


def test_a_quarantined_sponsors_rows_are_held_and_released_by_a_mended_delivery(
        tmp_path: Path, damaged: tuple[Path, IngestResult]) -> None:
    warehouse, first = damaged
    # both rows of the twin broke key_unique; its payroll rows are held, not lost
    twin = _held(warehouse).filter(pl.col("sponsor_id") == TWIN_SPONSOR)
    assert twin["_held_reason"].to_list() == ["sponsor quarantined"] * 2
    assert twin["_source_file"].to_list() == ["payroll.csv"] * 2
    assert TWIN_SPONSOR not in set(_payroll(warehouse)["sponsor_id"])
    assert first.manifest["held"]["top_sponsors"][0] == {
        "sponsor_id": TWIN_SPONSOR, "rows": 2, "reasons": ["sponsor quarantined"],
        "tables": ["payroll"]}

    # the next delivery brings one valid row of that sponsor, and nothing else
    mended = {"sponsors": [sponsor(TWIN_SPONSOR, recorded_on="2026-02-01")]}
    result = ingest(write_extract(tmp_path / "extract-2", mended), warehouse, run_gx=False)
    payroll = _payroll(warehouse)
    released = payroll.filter(pl.col("sponsor_id") == TWIN_SPONSOR)
    assert released.height == 2 and released.schema == TABLES["payroll"].schema
    assert TWIN_SPONSOR not in set(_held(warehouse)["sponsor_id"])
    counts = result.manifest["tables"]["payroll"]
    assert (counts["delivered"], counts["released"], counts["held_now"]) == (False, 2, 2)
    assert counts["warehouse_rows"] == payroll.height == 3 + 2
    # the others still wait: an unknown id, and the 7-digit one whose sponsor row broke
    # sponsor_id_format
    assert sorted(_held(warehouse)["sponsor_id"]) == ["1234567", "99999999"]
    assert _held(warehouse, "permits")["sponsor_id"].to_list() == ["99999999"]
    assert result.manifest["held"]["total"] == 3
    report = (warehouse / "reports" / "validation.md").read_text("utf-8")
    assert "2 released into the warehouse" in report
    assert "| 99999999 | 2 | payroll, permits | sponsor_id unknown |" in report

    # the same delivery again: released rows stay, nothing is released twice
    before = _payroll(warehouse)
    again = ingest(tmp_path / "extract-2", warehouse, run_gx=False)
    assert again.manifest["tables"]["payroll"]["released"] == 0
    assert _payroll(warehouse).equals(before)


def test_released_rows_are_validated_like_new_rows_and_a_redelivery_replaces_them(
        tmp_path: Path, damaged: tuple[Path, IngestResult]) -> None:
    warehouse, _ = damaged
    # this delivery brings the unknown sponsor and one of its payroll rows again, changed
    rows = {"sponsors": [sponsor("99999999", recorded_on="2026-02-01")],
            "payroll": [pay("99999999", "p9", "2024-01-01", gross_wage="6100.00")]}
    result = ingest(write_extract(tmp_path / "extract-2", rows), warehouse, run_gx=False)
    counts = result.manifest["tables"]["payroll"]
    assert (counts["clean"], counts["held_superseded"], counts["released"]) == (1, 1, 0)
    paid = _payroll(warehouse).filter(pl.col("sponsor_id") == "99999999")
    assert paid["gross_wage"].to_list() == [6100.0]  # the delivered row, not the held one
    assert result.manifest["tables"]["permits"]["released"] == 1  # B5, not delivered again
    permits = pl.read_parquet(warehouse / "permits.parquet")
    assert "B5" in set(permits["application_id"])
    for name in TABLES:  # rows in = clean + held + quarantined, held or not delivered
        c = result.manifest["tables"][name]
        assert c["rows_in"] == c["clean"] + c["held"] + c["quarantined"], name


def test_a_row_that_also_breaks_a_rule_of_its_own_is_quarantined_not_held(
        damaged: tuple[Path, IngestResult]) -> None:
    warehouse, _ = damaged
    assert "88888888" not in set(_held(warehouse)["sponsor_id"])
    quarantine = pl.read_parquet(warehouse / "quarantine" / "payroll.parquet")
    row = quarantine.filter(pl.col("sponsor_id") == "88888888").row(0, named=True)
    assert sorted(row["_rules_broken"]) == ["gross_wage_in_range",
                                            "sponsor_id_known_in_sponsors"]


def test_a_clean_extract_holds_and_quarantines_nothing(tmp_path: Path) -> None:
    result = ingest(write_extract(tmp_path / "clean", clean_rows()), tmp_path / "warehouse",
                    run_gx=False)
    assert result.manifest["held"] == {"total": 0, "sponsors": 0, "by_table": {},
                                       "by_reason": {}, "top_sponsors": []}
    report = (tmp_path / "warehouse" / "reports" / "validation.md").read_text("utf-8")
    assert "No row is held" in report


def test_unusual_but_lawful_rows_are_counted_with_examples_and_kept(
        damaged: tuple[Path, IngestResult]) -> None:
    warehouse, result = damaged
    manifest = read_manifest(warehouse)
    assert manifest["warnings"] == {"permits": {"decided_before_submitted": 1},
                                    "notifications": {"filed_before_event": 1}}
    assert "B1" in set(pl.read_parquet(warehouse / "permits.parquet")["application_id"])
    assert "N2" in set(pl.read_parquet(warehouse / "notifications.parquet")["notification_id"])
    report = (warehouse / "reports" / "validation.md").read_text("utf-8")
    assert ("| filed_before_event | filed_on is before event_on (advance notice) | 1 | "
            "notifications.csv row 2 (line 3) |") in report
    assert result.checked["permits"].warning_examples["decided_before_submitted"] == [
        {"file": "permits.csv", "row": 4, "line": 5}]
