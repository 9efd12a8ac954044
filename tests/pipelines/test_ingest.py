"""Ingest: quarantine instead of rejection, rows held for their sponsor, exact
identifiers, reconciled counts, safe re-runs, table-level errors that leave the warehouse
alone."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest
from ingest_extracts import (
    TRICKY_NAMES,
    Damaged,
    clean_rows,
    sponsor,
    typed_frame,
    write_damaged,
    write_extract,
)

from pipelines.ingest.errors import IngestError
from pipelines.ingest.merge import ZERO_COUNTS
from pipelines.ingest.pipeline import IngestResult, ingest
from sponsorwatch.contract import TABLES
from sponsorwatch.history import entity_key
from sponsorwatch.storage import read_manifest
from sponsorwatch.validation import RULES_BROKEN, validate_rows


def _tree_bytes(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _clean_bytes(warehouse: Path) -> dict[str, bytes]:
    return {name: (warehouse / f"{name}.parquet").read_bytes() for name in TABLES}


@pytest.fixture(scope="module")
def damaged(tmp_path_factory: pytest.TempPathFactory) -> tuple[IngestResult, Path, Damaged]:
    """The damaged extract ingested once without GX (the GX run is in test_ingest_gx)."""
    root = tmp_path_factory.mktemp("damaged")
    expected = write_damaged(root / "extract-2026-01")
    result = ingest(root / "extract-2026-01", root / "warehouse", run_gx=False)
    return result, root / "warehouse", expected


def test_every_broken_row_is_quarantined_with_exactly_its_rules(damaged) -> None:
    _, warehouse, expected = damaged
    for name in TABLES:
        quarantine = pl.read_parquet(warehouse / "quarantine" / f"{name}.parquet")
        got = {row["_source_row"]: set(row[RULES_BROKEN]) for row in quarantine.to_dicts()}
        assert got == expected.quarantined.get(name, {}), name


def test_rows_of_an_unknown_or_quarantined_sponsor_are_held_with_their_reason(damaged
                                                                            ) -> None:
    _, warehouse, expected = damaged
    for name, table in TABLES.items():
        path = warehouse / "held" / f"{name}.parquet"
        assert path.exists() == bool(table.references), name
        if path.exists():
            held = pl.read_parquet(path)
            got = {r["_source_row"]: r["_held_reason"] for r in held.to_dicts()}
            assert got == expected.held.get(name, {}), name
            assert set(held["_source_extract"]) <= {"extract-2026-01"}
            # the contract columns as parsed, ready to enter the clean table
            assert held.select(table.column_names).schema == table.schema


def test_counts_reconcile_for_every_table(damaged) -> None:
    result, warehouse, expected = damaged
    manifest = read_manifest(warehouse)
    for name in TABLES:
        counts = manifest["tables"][name]
        clean = pl.read_parquet(warehouse / f"{name}.parquet")
        raw = pl.read_parquet(warehouse / "raw" / f"{name}.parquet")
        assert counts["rows_in"] == raw.height == (
            counts["clean"] + counts["held"] + counts["quarantined"])
        # A version 1 row with an end is kept as two versions (before and after the end).
        assert counts["clean"] + counts["versions_derived"] == clean.height
        assert counts["quarantined"] == len(expected.quarantined.get(name, {}))
        assert counts["held"] == counts["held_now"] == len(expected.held.get(name, {}))
    # held or quarantined, each row breaking it is counted for the rule
    assert manifest["rules_broken"]["payroll"]["sponsor_id_known_in_sponsors"] == 5
    assert manifest["held"]["total"] == 5 and manifest["held"]["by_reason"] == {
        "sponsor quarantined": 3, "sponsor_id unknown": 2}


def test_clean_layer_breaks_no_rule(damaged) -> None:
    _, warehouse, _ = damaged
    sponsors = pl.read_parquet(warehouse / "sponsors.parquet")
    for name in TABLES:
        clean = pl.read_parquet(warehouse / f"{name}.parquet")
        assert clean.schema == TABLES[name].schema
        again = validate_rows(name, clean, known={"sponsors": sponsors["sponsor_id"]})
        assert again.quarantined.height == 0 and again.clean.equals(clean)


def test_identifiers_and_names_survive_byte_for_byte(damaged) -> None:
    _, warehouse, _ = damaged
    sponsors = pl.read_parquet(warehouse / "sponsors.parquet")
    names = dict(zip(sponsors["sponsor_id"], sponsors["name"], strict=True))
    for kvk, name in TRICKY_NAMES.items():
        assert names[kvk].encode("utf-8") == name.encode("utf-8")
    assert "01234567" in names  # leading zero kept, BOM did not eat the first column
    assert sponsors["address_key"].null_count() == sponsors.height  # optional, not delivered


def test_quarantine_keeps_the_text_as_delivered_and_where_it_came_from(damaged) -> None:
    _, warehouse, _ = damaged
    payroll = pl.read_parquet(warehouse / "quarantine" / "payroll.parquet")
    row = payroll.filter(pl.col(RULES_BROKEN).list.contains("gross_wage_parseable")).row(
        0, named=True)
    assert row["gross_wage"] == "5.000,00"
    assert row["_source_file"] == "payroll.csv"
    # three clean rows before it, header on line 1, no newlines inside payroll values
    assert row["_source_line"] == row["_source_row"] + 1
    sponsors = pl.read_parquet(warehouse / "quarantine" / "sponsors.parquet")
    first = sponsors.sort("_source_row").row(0, named=True)
    # rows 1-3 hold names with 1, 0 and 1 embedded newlines: row 4 starts on line 2+2+1+2
    assert (first["_source_row"], first["_source_line"]) == (4, 7)


def test_unknown_extra_column_is_kept_raw_and_dropped_clean(damaged) -> None:
    _, warehouse, _ = damaged
    raw = pl.read_parquet(warehouse / "raw" / "sponsors.parquet")
    assert raw["register_name"][0] == "from the register"
    assert "register_name" not in pl.read_parquet(warehouse / "sponsors.parquet").columns


def test_folder_of_parquet_files_is_one_table(damaged) -> None:
    result, warehouse, _ = damaged
    files = [s["file"] for s in read_manifest(warehouse)["sources"]["sponsor_officers"]]
    assert files == ["sponsor_officers/part-000.parquet", "sponsor_officers/part-001.parquet"]
    officers = pl.read_parquet(warehouse / "sponsor_officers.parquet")
    assert officers.select(entity_key("sponsor_officers")).unique().height == 2


def test_rerun_gives_the_same_clean_bytes_and_a_newer_extract_supersedes(tmp_path: Path
                                                                         ) -> None:
    first = write_extract(tmp_path / "extract-1", clean_rows(), parquet=("workforce",))
    warehouse = tmp_path / "warehouse"
    ingest(first, warehouse, run_gx=False)
    before = _clean_bytes(warehouse)
    ingest(first, warehouse, run_gx=False)
    assert _clean_bytes(warehouse) == before

    newer = clean_rows()
    newer["sponsors"] = [sponsor("01234567", name="Renamed B.V."), sponsor("87654321")]
    newer = {k: v for k, v in newer.items() if k in ("sponsors", "permits")}
    result = ingest(write_extract(tmp_path / "extract-2", newer), warehouse, run_gx=False)
    sponsors = pl.read_parquet(warehouse / "sponsors.parquet")
    assert sponsors["sponsor_id"].to_list() == ["01234567", "12345678", "23456789", "87654321"]
    assert sponsors.filter(pl.col("sponsor_id") == "01234567")["name"].item() == "Renamed B.V."
    assert result.manifest["tables"]["sponsors"] == _counts(
        rows_in=2, clean=2, added=1, superseded=1, warehouse_rows=4)
    assert result.manifest["tables"]["payroll"]["delivered"] is False
    assert pl.read_parquet(warehouse / "payroll.parquet").height == 3
    assert [h["extract"] for h in result.manifest["history"]] == ["extract-1", "extract-1"]


def _counts(**given: int) -> dict[str, object]:
    """A table's manifest counts: delivered, the given ones, zero for the rest."""
    return {"delivered": True} | dict.fromkeys(ZERO_COUNTS, 0) | given


def _assert_stops(extract: Path, warehouse: Path, *fragments: str) -> None:
    before = _tree_bytes(warehouse)
    with pytest.raises(IngestError) as caught:
        ingest(extract, warehouse, run_gx=False)
    for fragment in fragments:
        assert fragment in str(caught.value)
    assert _tree_bytes(warehouse) == before


@pytest.fixture
def ingested(tmp_path: Path) -> Path:
    warehouse = tmp_path / "warehouse"
    ingest(write_extract(tmp_path / "good", clean_rows()), warehouse, run_gx=False)
    return warehouse


def test_missing_required_column_stops_naming_file_column_and_rule(tmp_path: Path,
                                                                   ingested: Path) -> None:
    rows = clean_rows()
    for row in rows["payroll"]:
        del row["gross_wage"]
    _assert_stops(write_extract(tmp_path / "bad", rows), ingested,
                  "payroll.csv", "'gross_wage'", "required_column_present")


def test_unreadable_file_stops(tmp_path: Path, ingested: Path) -> None:
    extract = write_extract(tmp_path / "bad", clean_rows())
    (extract / "permits.csv").unlink()
    (extract / "permits.parquet").write_bytes(b"PAR1 this is not parquet")
    _assert_stops(extract, ingested, "permits.parquet", "file_readable")
    (extract / "permits.parquet").unlink()
    (extract / "permits.csv").write_bytes(b"application_id,sponsor_id\n\xff\xfe,1\n")
    _assert_stops(extract, ingested, "permits.csv", "file_readable")


def test_a_table_delivered_twice_stops(tmp_path: Path, ingested: Path) -> None:
    extract = write_extract(tmp_path / "bad", clean_rows())
    typed_frame("permits", clean_rows()["permits"]).write_parquet(extract / "permits.parquet")
    _assert_stops(extract, ingested, "permits.parquet, permits.csv", "one_form_per_table")


def test_identifier_stored_as_a_number_stops(tmp_path: Path, ingested: Path) -> None:
    extract = write_extract(tmp_path / "bad", clean_rows())
    (extract / "sponsors.csv").unlink()
    typed_frame("sponsors", clean_rows()["sponsors"]).with_columns(
        pl.col("sponsor_id").cast(pl.Int64)).write_parquet(extract / "sponsors.parquet")
    _assert_stops(extract, ingested, "sponsors.parquet", "'sponsor_id'", "sponsor_id_type")


def test_a_column_in_which_no_value_parses_stops(tmp_path: Path, ingested: Path) -> None:
    rows = clean_rows()
    template = rows["payroll"][0]
    rows["payroll"] = [{**template, "person_key": f"p{i}", "period": "01-01-2024"}
                       for i in range(25)]
    _assert_stops(write_extract(tmp_path / "bad", rows), ingested,
                  "payroll.csv", "'period'", "period_parseable", "'01-01-2024'")
    # one such value among parseable ones only quarantines its row (see the damaged extract)
    rows["payroll"][0]["period"] = "2024-01-01"
    result = ingest(write_extract(tmp_path / "mixed", rows), ingested, run_gx=False)
    assert result.manifest["rules_broken"]["payroll"] == {"period_parseable": 24}


def test_missing_table_stops_on_a_first_ingest(tmp_path: Path) -> None:
    rows = clean_rows()
    del rows["inspections"]
    with pytest.raises(IngestError, match="inspections.*table_present"):
        ingest(write_extract(tmp_path / "bad", rows), tmp_path / "warehouse", run_gx=False)
    assert not (tmp_path / "warehouse").exists()


def test_a_crash_while_writing_leaves_the_previous_warehouse(tmp_path: Path, ingested: Path,
                                                             monkeypatch) -> None:
    import pipelines.ingest.warehouse as warehouse_module

    before = _tree_bytes(ingested)
    real_write = warehouse_module._write
    calls = []

    def write_then_die(frame: pl.DataFrame, destination: Path) -> None:
        calls.append(destination)
        if len(calls) == 5:
            raise OSError("disk full")
        real_write(frame, destination)

    monkeypatch.setattr(warehouse_module, "_write", write_then_die)
    newer = clean_rows()
    newer["sponsors"][0]["name"] = "Changed"
    with pytest.raises(OSError, match="disk full"):
        ingest(write_extract(tmp_path / "newer", newer), ingested, run_gx=False)
    assert _tree_bytes(ingested) == before
    assert [p.name for p in ingested.parent.iterdir() if p.name.startswith(".")] == []


def test_cli_prints_counts_as_json_and_fails_cleanly(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cli.main import app

    extract = write_extract(tmp_path / "extract", clean_rows())
    runner = CliRunner()
    ok = runner.invoke(app, ["--home", str(tmp_path / "home"), "ingest", str(extract),
                             "--json", "--skip-gx"])
    assert ok.exit_code == 0, ok.output
    payload = json.loads(ok.stdout)
    assert payload["tables"]["payroll"] == _counts(rows_in=3, clean=3, added=3,
                                                   warehouse_rows=3)
    shutil.rmtree(extract / "payroll.csv", ignore_errors=True)
    (extract / "payroll.csv").write_text("sponsor_id\n01234567\n", encoding="utf-8")
    failed = runner.invoke(app, ["--home", str(tmp_path / "home"), "ingest", str(extract),
                                 "--skip-gx"])
    assert failed.exit_code == 2
    assert "payroll.csv" in failed.stderr and "required_column_present" in failed.stderr
    assert "Traceback" not in failed.output
