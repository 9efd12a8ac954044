"""A world computed in shards (features.context.Context.shards) gives every feature as
computed whole: a sponsor's features depend on its own rows alone, the links on the whole
world, which is never split.

Exactly, except the last bit of a few floats that polars itself does not reproduce from
one run to the next on the same frame: sums of floats in a group-by (the other staff's
wages) and divisions by a constant (ages in years; a chunk of one row is divided, the
others multiplied by the inverse). Those are held to 1e-12 here; on the worlds of 12,000
and 120,000 sponsors benchmarks/bench_features.py finds every value identical
(``sharded_identical_to_whole``).
"""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from benchmarks.bench_pit import extracts
from features.build import build_feature_history, build_features
from features.context import Context
from sponsorwatch.thresholds import load_thresholds
from tests.conftest import SMALL_WORLD_SEED
from tests.features.world import D

DATES = [D(2021, 6, 30), D(2023, 1, 31), D(2025, 12, 31)]
#: Features whose last bit polars does not reproduce between runs (see above).
ROUNDED = ("other_staff_wage_vs_criterion", "other_staff_wage_bill_vs_criterion",
           "company_age_years", "founding_to_recognition_years", "recognition_age_years")


@pytest.fixture(scope="module")
def world() -> dict[str, dict[str, pl.DataFrame]]:
    from pipelines.simulate import simulate_world

    return extracts(simulate_world(300, SMALL_WORLD_SEED), SMALL_WORLD_SEED)


@pytest.fixture(scope="module")
def thresholds() -> pl.DataFrame:
    return load_thresholds()


def _snapshots(tables: dict[str, pl.LazyFrame], thresholds: pl.DataFrame) -> pl.DataFrame:
    return pl.concat([build_features(tables, day, thresholds).collect() for day in DATES])


def assert_same(got: pl.DataFrame, expected: pl.DataFrame) -> None:
    assert_frame_equal(got.drop(ROUNDED), expected.drop(ROUNDED), check_exact=True)
    assert_frame_equal(got.select(ROUNDED), expected.select(ROUNDED), check_exact=False,
                       rel_tol=1e-12, abs_tol=1e-12)


@pytest.mark.parametrize("delivery", ["as_simulated", "versions_added"])
def test_shards_give_the_features_of_the_whole(
        world: dict[str, dict[str, pl.DataFrame]], thresholds: pl.DataFrame,
        delivery: str, monkeypatch: pytest.MonkeyPatch) -> None:
    tables = {name: frame.lazy() for name, frame in world[delivery].items()}
    whole = _snapshots(tables, thresholds)
    assert whole.height > 400
    for per_shard in (97, 13):  # 4 and 24 shards
        monkeypatch.setattr(Context, "sponsors_per_shard", per_shard)
        assert len(Context(tables, DATES[-1], thresholds).shards) == -(-300 // per_shard)
        assert_same(_snapshots(tables, thresholds), whole)
        assert_same(build_feature_history(tables, DATES, thresholds), whole)


def test_a_small_world_is_one_shard(thresholds: pl.DataFrame,
                                   world: dict[str, dict[str, pl.DataFrame]]) -> None:
    tables = {name: frame.lazy() for name, frame in world["as_simulated"].items()}
    ctx = Context(tables, DATES[-1], thresholds)
    assert ctx.shards == (ctx,)
