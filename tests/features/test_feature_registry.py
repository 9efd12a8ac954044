from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from features.build import build_features
from features.registry import FEATURE_SET_VERSION, FEATURES, feature_names, features_markdown
from sponsorwatch.thresholds import load_thresholds

ROOT = Path(__file__).resolve().parents[2]


def test_committed_feature_docs_are_current() -> None:
    committed = (ROOT / "docs" / "features.md").read_text(encoding="utf-8")
    assert committed == features_markdown(), (
        "docs/features.md is stale: run `uv run python -m features.docs`")


def test_every_feature_is_described_with_unit_and_direction() -> None:
    assert FEATURE_SET_VERSION.startswith("fs-")
    for name, feature in FEATURES.items():
        assert feature.name == name
        assert feature.description and "\n" not in feature.description
        assert feature.unit
        assert feature.direction in (-1, 0, 1)
    sector = {f.name for f in FEATURES.values() if f.sector}
    assert sector and all(FEATURES[n].direction == 0 for n in sector)


def test_sector_switch_drops_only_sector_features() -> None:
    with_sector, without = feature_names(True), feature_names(False)
    assert set(with_sector) - set(without) == {f.name for f in FEATURES.values() if f.sector}
    assert without == [n for n in with_sector if n in without]


def test_no_tables_gives_an_empty_typed_snapshot() -> None:
    out = build_features({}, dt.date(2024, 1, 1), load_thresholds(), use_sector=False).collect()
    assert out.height == 0
    assert out.columns == ["sponsor_id", "as_of", *feature_names(False)]
    assert all(out.schema[n] == pl.Float64 for n in feature_names(False))


def test_a_subset_of_features_equals_those_columns_of_the_full_set() -> None:
    from tests.features.test_pit_rule import T, busy_world

    world, thresholds = busy_world(), load_thresholds()
    subset = ["past_violations", "salary_ratio_median", "early_leaver_share_6m"]
    full = build_features(world.frames(), T, thresholds).collect()
    part = build_features(world.frames(), T, thresholds, features=subset).collect()
    assert part.columns == ["sponsor_id", "as_of", *subset]
    assert part.equals(full.select("sponsor_id", "as_of", *subset))


def test_unknown_feature_is_named() -> None:
    import pytest

    with pytest.raises(KeyError, match="no_such_feature"):
        build_features({}, dt.date(2024, 1, 1), load_thresholds(), features=["no_such_feature"])
