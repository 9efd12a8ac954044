"""The simulated world is a valid extract: ingest quarantines nothing and keeps every row."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pipelines.ingest.pipeline import ingest
from sponsorwatch.contract import TABLES


def test_small_world_ingests_with_nothing_quarantined(small_world: Path, tmp_path: Path
                                                      ) -> None:
    result = ingest(small_world, tmp_path / "warehouse", run_gx=False)
    tables = result.manifest["tables"]
    assert {name: counts["quarantined"] for name, counts in tables.items()} == {
        name: 0 for name in TABLES}
    for name in TABLES:
        clean = pl.read_parquet(tmp_path / "warehouse" / f"{name}.parquet")
        assert tables[name]["rows_in"] == tables[name]["clean"] > 0
        assert clean.height == tables[name]["clean"] + tables[name]["versions_derived"]
        assert clean.schema == TABLES[name].schema
    ids = pl.read_parquet(tmp_path / "warehouse" / "sponsors.parquet")["sponsor_id"]
    assert ids.str.contains(r"^[0-9]{8}$").all()
