"""The DuckDB SQL peer (benchmarks/duckdb_features.py) agrees with the polars features."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from benchmarks.duckdb_features import DUCKDB_FEATURES, connect, duckdb_features
from features.build import build_features
from sponsorwatch.thresholds import load_thresholds
from tests.features.test_pit_rule import add_records_filed_after, busy_world
from tests.features.world import D, months

DATES = [D(2023, 6, 30), D(2024, 1, 15), D(2024, 6, 30)]


def test_at_least_eight_features_in_sql() -> None:
    assert len(DUCKDB_FEATURES) >= 8


@pytest.mark.parametrize("as_of", DATES)
def test_duckdb_matches_polars_with_late_and_early_corrections(as_of) -> None:  # noqa: ANN001
    world = busy_world()
    add_records_filed_after(world, D(2024, 1, 15))
    # a correction known before every date, and one only known from 2024-03-01 on
    world.pay("10000001", "p2", months(D(2023, 2, 1), 3), 3000.0, filed_on=D(2023, 6, 1),
              correction=True)
    world.pay("10000002", "q1", months(D(2023, 5, 1), 4), 2000.0, filed_on=D(2024, 3, 1),
              correction=True)
    thresholds = load_thresholds()
    sql = duckdb_features(connect(world.frames(), thresholds), as_of)
    frame = build_features(world.frames(), as_of, thresholds,
                           features=DUCKDB_FEATURES).collect().drop("as_of")
    assert sql.height == frame.height > 0
    assert_frame_equal(sql, frame, check_exact=False, rel_tol=1e-9)
    assert frame.select(pl.col(DUCKDB_FEATURES).is_not_null().sum()).row(0) != (0,) * len(
        DUCKDB_FEATURES)


@pytest.mark.parametrize("delivery", ["as_simulated", "versions_added"])
def test_duckdb_matches_polars_on_versions_of_contract_2(delivery: str) -> None:
    """Sponsors and inspections in versions (recorded_on): both take the latest version
    recorded by T (a sponsor that moved, was revoked late, an outcome changed on appeal)."""
    from benchmarks.bench_pit import extracts
    from pipelines.simulate import simulate_world
    from tests.conftest import SMALL_WORLD_SEED

    tables = {name: frame.lazy() for name, frame in
              extracts(simulate_world(300, SMALL_WORLD_SEED), SMALL_WORLD_SEED)[delivery].items()}
    assert tables["sponsors"].select(pl.len()).collect().item() > 300  # versions
    thresholds = load_thresholds()
    con = connect(tables, thresholds)
    for as_of in (D(2022, 6, 30), D(2025, 12, 31)):
        sql = duckdb_features(con, as_of)
        frame = build_features(tables, as_of, thresholds,
                               features=DUCKDB_FEATURES).collect().drop("as_of")
        assert sql.height == frame.height > 100
        assert_frame_equal(sql, frame, check_exact=False, rel_tol=1e-9)
