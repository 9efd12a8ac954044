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
