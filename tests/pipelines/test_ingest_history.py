"""A warehouse with history: every version of a record kept (deduplicated on the full key,
recorded_on included), re-ingesting changes nothing, a later extract adds versions; and a
version 1 delivery says that its recorded_on was derived."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
from ingest_extracts import Rows, clean_rows, sponsor, write_extract

from pipelines.ingest.pipeline import ingest
from sponsorwatch.contract import TABLES
from sponsorwatch.history import as_known_on, current
from sponsorwatch.storage import read_manifest

VERSIONED = ("sponsors", "sponsor_officers", "inspections")


def v2_rows() -> dict[str, Rows]:
    """The clean extract as version 2: every versioned row with its recorded_on."""
    rows = clean_rows()
    for row in rows["sponsors"]:
        row["recorded_on"] = "2015-01-20"
    for row in rows["sponsor_officers"]:
        row["recorded_on"] = row["to_date"] or row["from_date"]
    for row in rows["inspections"]:
        row["recorded_on"] = row["closed_on"] or row["opened_on"]
        row["plan_id"] = "P2023-R" if row["selection"] == "RANDOM" else None
        row["inclusion_probability"] = "0.05" if row["selection"] == "RANDOM" else None
    return rows


def _clean_bytes(warehouse: Path) -> dict[str, bytes]:
    return {name: (warehouse / f"{name}.parquet").read_bytes() for name in TABLES}


def test_a_version_2_extract_ingested_twice_gives_the_same_bytes(tmp_path: Path) -> None:
    extract = write_extract(tmp_path / "extract", v2_rows(), parquet=("inspections",))
    warehouse = tmp_path / "warehouse"
    first = ingest(extract, warehouse, run_gx=False)
    before = _clean_bytes(warehouse)
    again = ingest(extract, warehouse, run_gx=False)
    assert _clean_bytes(warehouse) == before
    assert again.manifest["warehouse_version"] != first.manifest["warehouse_version"]
    for name in TABLES:
        counts = again.manifest["tables"][name]
        assert counts["added"] == 0 and counts["superseded"] == counts["clean"], name
    # a version 2 delivery derives nothing and says nothing about leaking history
    assert again.manifest["knowledge_time"] == {}
    report = (warehouse / "reports" / "validation.md").read_text("utf-8")
    assert "Knowledge time" not in report and "may leak" not in report
    inspections = pl.read_parquet(warehouse / "inspections.parquet")
    assert inspections["inclusion_probability"].drop_nulls().to_list() == [0.05]


def test_a_later_version_is_added_and_both_are_kept(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse"
    ingest(write_extract(tmp_path / "extract-1", v2_rows()), warehouse, run_gx=False)
    later = {"sponsors": [sponsor("01234567", name="Renamed B.V.", postcode4="3511",
                                  recorded_on="2024-06-10")]}
    result = ingest(write_extract(tmp_path / "extract-2", later), warehouse, run_gx=False)
    counts = result.manifest["tables"]["sponsors"]
    assert {k: counts[k] for k in ("rows_in", "clean", "added", "superseded",
                                   "warehouse_rows")} == {
        "rows_in": 1, "clean": 1, "added": 1, "superseded": 0, "warehouse_rows": 4}
    sponsors = pl.read_parquet(warehouse / "sponsors.parquet")
    versions = sponsors.filter(pl.col("sponsor_id") == "01234567").sort("recorded_on")
    assert versions["recorded_on"].to_list() == [dt.date(2015, 1, 20), dt.date(2024, 6, 10)]
    assert versions["name"][0].startswith("Café") and versions["name"][1] == "Renamed B.V."
    now = current("sponsors", sponsors).filter(pl.col("sponsor_id") == "01234567")
    assert now["name"].to_list() == ["Renamed B.V."] and now["postcode4"].item() == "3511"
    before = as_known_on("sponsors", sponsors, dt.date(2024, 6, 9)).filter(
        pl.col("sponsor_id") == "01234567")
    assert before["name"].item().startswith("Café") and before["postcode4"].item() == "1012"
    # the other sponsors and every other table are as they were
    assert current("sponsors", sponsors).height == 3
    assert pl.read_parquet(warehouse / "payroll.parquet").height == 3
    # delivering the same later version again changes nothing
    bytes_before = _clean_bytes(warehouse)
    ingest(tmp_path / "extract-2", warehouse, run_gx=False)
    assert _clean_bytes(warehouse) == bytes_before


def test_a_version_1_extract_says_in_one_line_per_table_that_history_may_leak(
        tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse"
    result = ingest(write_extract(tmp_path / "v1", clean_rows()), warehouse, run_gx=False)
    lines = result.manifest["knowledge_time"]
    assert sorted(lines) == sorted(VERSIONED)
    for name, line in lines.items():
        assert line.startswith(f"{name}: recorded_on was not delivered")
        assert "derived from effective dates" in line and "may leak into the past" in line
    report = (warehouse / "reports" / "validation.md").read_text("utf-8")
    for line in lines.values():
        assert report.count(line) == 1
    assert read_manifest(warehouse)["knowledge_time"] == lines
    # an officer who left is two versions: in office from from_date, gone from to_date
    officers = pl.read_parquet(warehouse / "sponsor_officers.parquet")
    assert result.manifest["tables"]["sponsor_officers"]["versions_derived"] == 1
    assert officers.height == 3


def test_a_warehouse_of_contract_version_1_is_read_and_given_versions(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse"
    ingest(write_extract(tmp_path / "v1", clean_rows()), warehouse, run_gx=False)
    # what an ingest before contract version 2 wrote: one row per sponsor, no recorded_on
    target = warehouse.resolve() / "sponsors.parquet"
    pl.read_parquet(target).drop("recorded_on").unique("sponsor_id").write_parquet(target)
    later = {"sponsors": [sponsor("12345678", recorded_on="2024-06-10", name="New name")]}
    ingest(write_extract(tmp_path / "later", later), warehouse, run_gx=False)
    sponsors = pl.read_parquet(warehouse / "sponsors.parquet")
    assert sponsors.schema == TABLES["sponsors"].schema
    assert sponsors["recorded_on"].null_count() == 0 and sponsors.height == 4
    assert current("sponsors", sponsors).filter(
        pl.col("sponsor_id") == "12345678")["name"].item() == "New name"
