"""Snapshots record what built them; scoring rebuilds a stale one, training refuses it."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from cli.main import app
from features.store import (
    StaleSnapshotsError,
    read_store_manifest,
    rebuild_commands,
    snapshot_manifest,
    snapshot_path,
    stale_snapshots,
)
from sponsorwatch.settings import Settings
from training.fitting.feature_meta import feature_meta
from training.jobs.score import snapshot
from training.jobs.train import load_training_set

D = dt.date
DAYS = ["2023-10-31", "2023-11-30", "2023-12-31", "2024-01-31"]
SCORED = D(2024, 1, 31)


def ingest_busy_world(settings: Settings, tmp_path: Path, when: dt.datetime,
                      later_notice: bool = False) -> None:
    """Ingest the hand-made busy world of the feature tests (a real ingest, no GX); with
    ``later_notice``, a later delivery that adds a notice filed after every snapshot day."""
    from pipelines.ingest.pipeline import ingest
    from tests.features.test_pit_rule import busy_world

    world = busy_world()
    if later_notice:
        world.notice("10000001", None, "SPONSOR_CHANGED", D(2024, 5, 1), D(2024, 6, 1))
    extract = tmp_path / f"extract-{when:%Y-%m-%d}"
    extract.mkdir()
    for name, frame in world.frames().items():
        frame.collect().write_parquet(extract / f"{name}.parquet")
    ingest(extract, settings.warehouse_dir, run_gx=False, now=when)


def build_snapshots(settings: Settings) -> None:
    result = CliRunner().invoke(app, ["--home", str(settings.home), "features",
                                      "--from", DAYS[0], "--to", DAYS[-1]])
    assert result.exit_code == 0, result.output


def load(settings: Settings) -> None:
    load_training_set(settings, D(2025, 1, 31), 12, feature_meta(settings.use_sector))


def recorded_ingest(settings: Settings, day: str) -> str:
    return read_store_manifest(settings.features_dir)["snapshots"][day]["warehouse"][
        "ingested_at"]


@pytest.fixture
def home(settings: Settings, tmp_path: Path) -> Settings:
    ingest_busy_world(settings, tmp_path, dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    build_snapshots(settings)
    return settings


def test_each_snapshot_records_the_warehouse_and_feature_set(home: Settings) -> None:
    from features.registry import FEATURE_SET_VERSION

    records = read_store_manifest(home.features_dir)["snapshots"]
    assert sorted(records) == DAYS
    for record in records.values():
        assert record["feature_set_version"] == FEATURE_SET_VERSION
        assert record["use_sector"] is home.use_sector
        assert record["warehouse"]["ingested_at"] == "2026-01-01T00:00:00+00:00"
        assert record["warehouse"]["extract"] == "extract-2026-01-01"
        assert len(record["warehouse"]["manifest_sha256"]) == 16
    assert stale_snapshots(home.features_dir,
                           snapshot_manifest(home.warehouse_dir, home.use_sector)) == {}
    load(home)  # fresh: accepted


def test_a_re_ingest_makes_scoring_rebuild_and_training_refuse(home: Settings,
                                                               tmp_path: Path) -> None:
    path = snapshot_path(home.features_dir, SCORED)
    stored = pl.read_parquet(path)
    written = path.stat().st_mtime_ns
    assert snapshot(home, SCORED).equals(stored)
    assert path.stat().st_mtime_ns == written  # fresh: read, not rebuilt

    ingest_busy_world(home, tmp_path, dt.datetime(2026, 2, 1, tzinfo=dt.UTC), later_notice=True)
    with pytest.raises(StaleSnapshotsError) as refused:
        load(home)
    message = str(refused.value)
    assert "4 feature snapshot(s) are stale" in message
    assert "built from another warehouse state" in message
    assert f"`sponsorwatch features --from {DAYS[0]} --to {DAYS[-1]}`" in message

    assert snapshot(home, SCORED).equals(stored)  # nothing new by then: the same features
    assert path.stat().st_mtime_ns != written
    assert recorded_ingest(home, SCORED.isoformat()) == "2026-02-01T00:00:00+00:00"
    assert recorded_ingest(home, DAYS[0]) == "2026-01-01T00:00:00+00:00"
    # the rebuilt day is fresh; the command names only the others
    with pytest.raises(StaleSnapshotsError, match=f"--from {DAYS[0]} --to {DAYS[2]}`"):
        load(home)
    build_snapshots(home)
    load(home)


def test_a_new_feature_set_version_is_refused_and_rebuilt(home: Settings,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import features.registry

    monkeypatch.setattr(features.registry, "FEATURE_SET_VERSION", "fs-next")
    with pytest.raises(StaleSnapshotsError, match="built by feature set fs-2, now fs-next"):
        load(home)
    snapshot(home, SCORED)
    record = read_store_manifest(home.features_dir)["snapshots"][SCORED.isoformat()]
    assert record["feature_set_version"] == "fs-next"


def test_the_sector_switch_and_a_store_without_records_are_refused(home: Settings) -> None:
    assert home.use_sector is False
    with pytest.raises(StaleSnapshotsError, match="use_sector"):
        load(home.model_copy(update={"use_sector": True}))
    manifest_file = home.features_dir / "manifest.json"
    manifest = read_store_manifest(home.features_dir)
    # Snapshots with the sector features serve a model without them (a superset).
    with_sector = json.loads(json.dumps(manifest))
    for record in with_sector["snapshots"].values():
        record["use_sector"] = True
    manifest_file.write_text(json.dumps(with_sector))
    load(home)
    del manifest["snapshots"]  # a store written before snapshots recorded what built them
    manifest_file.write_text(json.dumps(manifest))
    with pytest.raises(StaleSnapshotsError, match="no record of the warehouse"):
        load(home)


def test_rebuild_commands_cover_exactly_the_dates() -> None:
    from features.build import as_of_dates

    quarters = as_of_dates(D(2020, 1, 1), D(2025, 10, 1), "quarter")
    assert rebuild_commands([*quarters, D(2025, 12, 31)]) == [
        "sponsorwatch features --from 2020-01-01 --to 2025-10-01 --every quarter",
        "sponsorwatch features --as-of 2025-12-31"]
    months = as_of_dates(D(2023, 1, 31), D(2023, 12, 31))
    assert rebuild_commands(months[:3] + months[6:]) == [
        "sponsorwatch features --from 2023-01-31 --to 2023-03-31",
        "sponsorwatch features --from 2023-07-31 --to 2023-12-31"]
    # a month from the 30th steps to the 30th: 30 June starts no run ending 31 December
    assert rebuild_commands(months[5:7]) == ["sponsorwatch features --as-of 2023-06-30",
                                             "sponsorwatch features --as-of 2023-07-31"]
    assert rebuild_commands([D(2024, 1, 15)]) == ["sponsorwatch features --as-of 2024-01-15"]
