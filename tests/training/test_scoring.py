"""The score table: ranks by score, bands by capacity, reasons as structs, atomic writes to
the store, CSV with reasons as text."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from hand_world import HAND_DESCRIPTIONS, HAND_DIRECTIONS, HAND_UNTIL

from training.fitting.dataset import TrainingSet
from training.fitting.models import XGBParams
from training.fitting.scoring import (
    ELEVATED,
    HIGH,
    NORMAL,
    SCORE_COLUMNS,
    score_frame,
    write_scores,
)
from training.fitting.train import TrainConfig, train_and_evaluate


@pytest.fixture(scope="module")
def scored(hand_data: TrainingSet) -> pl.DataFrame:
    result = train_and_evaluate(
        hand_data, TrainConfig(until=HAND_UNTIL, params=XGBParams(n_estimators=20), n_folds=1),
        HAND_DESCRIPTIONS, HAND_DIRECTIONS)
    features = hand_data.rows(hand_data.dates[-1:], labelled_only=False)
    sponsors = features.select(
        "sponsor_id", pl.format("Sponsor {}", "sponsor_id").alias("name"),
        pl.lit("56101").alias("sbi_code"), pl.lit("1012").alias("postcode4"))
    return score_frame(result.model, features, sponsors, capacity=10, model_version="7")


def test_rank_follows_score_and_bands_follow_capacity(scored: pl.DataFrame) -> None:
    assert scored.columns[:len(SCORE_COLUMNS)] == list(SCORE_COLUMNS)
    assert scored["rank"].to_list() == list(range(1, scored.height + 1))
    assert scored["score"].is_sorted(descending=True)
    bands = scored["band"].to_list()
    assert bands[:10] == [HIGH] * 10
    assert bands[10:50] == [ELEVATED] * 40
    assert set(bands[50:]) == {NORMAL}
    assert scored["model_version"].unique().to_list() == ["7"]
    assert scored["sector"][0].startswith("I")  # SBI 56: accommodation and food service


def test_reasons_are_structs_with_descriptions(scored: pl.DataFrame) -> None:
    top = scored.row(0, named=True)
    assert 1 <= len(top["reasons"]) <= 3
    first = top["reasons"][0]
    assert set(first) == {"feature", "value", "contribution", "description"}
    assert first["contribution"] > 0
    assert first["description"] == HAND_DESCRIPTIONS[first["feature"]]


def test_writes_store_and_csv_with_reasons_as_text(scored: pl.DataFrame,
                                                   tmp_path: Path) -> None:
    as_of = scored["as_of"][0]
    path = write_scores(scored, tmp_path / "scores", as_of, tmp_path / "out.csv")
    assert path == tmp_path / "scores" / f"as_of={as_of}" / "scores.parquet"
    assert pl.read_parquet(path).equals(scored)
    csv = pl.read_csv(tmp_path / "out.csv")
    assert csv.height == scored.height
    assert csv["reasons"][0].startswith(scored["reasons"][0][0]["feature"] + "=")
    with pytest.raises(ValueError, match=r"\.csv or \.parquet"):
        write_scores(scored, tmp_path / "scores", as_of, tmp_path / "out.xlsx")
    assert not list((tmp_path / "scores").rglob("*.tmp"))


def test_a_model_pickled_before_the_layers_move_still_loads(monkeypatch) -> None:
    import pickle
    import sys

    import training.fitting.model as model_module
    from training.fitting.model import IdentityCalibrator, RiskModel, load_risk_model

    model = RiskModel(feature_names=["a"], booster=None, calibrator=IdentityCalibrator())
    # Pickle it as the earlier release did, from its old module.
    monkeypatch.setitem(sys.modules, "training.model", model_module)
    monkeypatch.setattr(RiskModel, "__module__", "training.model")
    old = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    monkeypatch.undo()
    assert b"training.model" in old  # not a part of "training.fitting.model"
    loaded = load_risk_model(old)
    assert type(loaded) is RiskModel and loaded.feature_names == ["a"]
