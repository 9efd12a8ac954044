"""The feature store and the ``sponsorwatch features`` command."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from cli.main import app
from features.build import as_of_dates, build_features
from features.registry import FEATURE_SET_VERSION, feature_names
from features.store import read_store_manifest, scan_snapshots, snapshot_path, write_snapshot
from sponsorwatch.thresholds import load_thresholds
from tests.features.test_pit_rule import busy_world
from tests.features.world import D


def snapshot(as_of: dt.date, use_sector: bool = True) -> pl.DataFrame:
    return build_features(busy_world().frames(), as_of, load_thresholds(),
                          use_sector).collect()


def test_snapshots_round_trip_and_the_manifest_lists_their_dates(tmp_path: Path) -> None:
    manifest = {"feature_set_version": FEATURE_SET_VERSION, "warehouse_manifest": {"x": 1}}
    first, second = snapshot(D(2023, 12, 31)), snapshot(D(2024, 1, 31))
    write_snapshot(tmp_path, second, manifest)
    path = write_snapshot(tmp_path, first, manifest)
    assert path == tmp_path / "as_of=2023-12-31" / "features.parquet"
    assert read_store_manifest(tmp_path)["as_of_dates"] == ["2023-12-31", "2024-01-31"]
    assert read_store_manifest(tmp_path)["warehouse_manifest"] == {"x": 1}
    both = scan_snapshots(tmp_path).collect().sort("as_of", "sponsor_id")
    assert_frame_equal(both, pl.concat([first, second]))
    only = scan_snapshots(tmp_path, [D(2024, 1, 31)]).collect()
    assert_frame_equal(only, second)


def test_a_new_feature_set_version_starts_the_date_list_afresh(tmp_path: Path) -> None:
    write_snapshot(tmp_path, snapshot(D(2023, 12, 31)), {"feature_set_version": "fs-0"})
    write_snapshot(tmp_path, snapshot(D(2024, 1, 31)), {"feature_set_version": "fs-1"})
    assert read_store_manifest(tmp_path)["as_of_dates"] == ["2024-01-31"]


def test_a_snapshot_holds_one_date(tmp_path: Path) -> None:
    mixed = pl.concat([snapshot(D(2023, 12, 31)), snapshot(D(2024, 1, 31))])
    with pytest.raises(ValueError, match="exactly one as_of"):
        write_snapshot(tmp_path, mixed, {})


def test_missing_snapshots_are_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no feature snapshots"):
        scan_snapshots(tmp_path)
    with pytest.raises(FileNotFoundError, match="as_of=2024-01-31"):
        scan_snapshots(tmp_path, [D(2024, 1, 31)])


def test_as_of_dates_step_by_month_and_quarter() -> None:
    assert as_of_dates(D(2024, 1, 31), D(2024, 4, 30)) == [
        D(2024, 1, 31), D(2024, 2, 29), D(2024, 3, 31), D(2024, 4, 30)]
    assert as_of_dates(D(2024, 1, 1), D(2024, 12, 31), "quarter") == [
        D(2024, 1, 1), D(2024, 4, 1), D(2024, 7, 1), D(2024, 10, 1)]
    with pytest.raises(ValueError, match="every"):
        as_of_dates(D(2024, 1, 1), D(2024, 2, 1), "week")


def make_warehouse(home: Path) -> Path:
    warehouse = home / "warehouse"
    warehouse.mkdir(parents=True)
    for name, frame in busy_world().frames().items():
        frame.collect().write_parquet(warehouse / f"{name}.parquet")
    (warehouse / "manifest.json").write_text(json.dumps({"ingested": "test"}))
    return warehouse


def test_command_builds_a_range_of_snapshots(tmp_path: Path) -> None:
    home = tmp_path / "home"
    make_warehouse(home)
    result = CliRunner().invoke(app, ["--home", str(home), "features", "--from", "2023-10-31",
                                      "--to", "2024-01-31", "--every", "month"])
    assert result.exit_code == 0, result.output
    features_dir = home / "features"
    manifest = read_store_manifest(features_dir)
    assert manifest["as_of_dates"] == ["2023-10-31", "2023-11-30", "2023-12-31", "2024-01-31"]
    assert manifest["feature_set_version"] == FEATURE_SET_VERSION
    assert manifest["feature_names"] == feature_names(use_sector=False)  # the default
    assert manifest["warehouse_manifest"] == {"ingested": "test"}
    stored = pl.read_parquet(snapshot_path(features_dir, D(2024, 1, 31)))
    assert_frame_equal(stored, snapshot(D(2024, 1, 31), use_sector=False))


@pytest.mark.parametrize(("switch", "stored_sector"), [(None, False), ("false", False),
                                                       ("true", True)])
def test_command_honours_the_sector_switch(tmp_path: Path, monkeypatch,  # noqa: ANN001
                                           switch: str | None, stored_sector: bool) -> None:
    """Off unless asked for: sector is a proxy of nationality mix without a measured gain."""
    home = tmp_path / "home"
    make_warehouse(home)
    monkeypatch.delenv("SPONSORWATCH_USE_SECTOR", raising=False)
    if switch is not None:
        monkeypatch.setenv("SPONSORWATCH_USE_SECTOR", switch)
    result = CliRunner().invoke(app, ["--home", str(home), "features", "--as-of", "2024-01-15"])
    assert result.exit_code == 0, result.output
    stored = scan_snapshots(home / "features").collect()
    assert ("sector_division" in stored.columns) is stored_sector
    assert read_store_manifest(home / "features")["use_sector"] is stored_sector


def test_command_refuses_unclear_dates_and_a_missing_warehouse(tmp_path: Path) -> None:
    home = ["--home", str(tmp_path / "home"), "features"]
    runner = CliRunner()
    for args in ([], ["--as-of", "2024-01-01", "--from", "2023-01-01", "--to", "2023-02-01"],
                 ["--from", "2024-01-01"], ["--as-of", "2024-02-30"],
                 ["--from", "2024-02-01", "--to", "2024-01-01"]):
        result = runner.invoke(app, home + args)
        assert result.exit_code == 2, (args, result.output)
    result = runner.invoke(app, home + ["--as-of", "2024-01-01"])
    assert result.exit_code != 0
    assert "no warehouse" in str(result.exception)
