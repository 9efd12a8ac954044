"""Model cards are generated from the run and the feature registry, name no restricted
field among the features, and carry the fields of the Dutch algorithm register."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from sponsorwatch.settings import Settings
from sponsorwatch.storage import json_safe
from training.governance.audit import FairnessAudit
from training.governance.card_markdown import card_markdown
from training.governance.disparity import group_metrics
from training.governance.groups import RESTRICTED_GROUPING
from training.governance.model_card import (
    PUBLICATION_CATEGORY,
    build_model_card,
    card_cache_dir,
    restricted_features,
    write_card,
)
from training.governance.proxy import bias_scan
from training.registry.cards import load_model_card

REGISTER_FIELDS = (
    "name", "organisation", "description", "goal", "impact", "proportionality",
    "human_intervention", "legal_basis", "data_sources", "methods_and_models",
    "risk_management", "monitoring", "publication_category", "contact")


def _audit() -> FairnessAudit:
    rng = np.random.default_rng(5)
    n = 200
    population = pl.DataFrame({
        RESTRICTED_GROUPING: rng.choice(["SOUTH_ASIA", "EAST_ASIA"], n),
        "selected": rng.random(n) < 0.1,
        "label": pl.Series([None if v == 2 else int(v) for v in rng.choice(
            3, n, p=[0.3, 0.2, 0.5])], dtype=pl.Int8)})
    features = pl.DataFrame({"wage_gap": rng.normal(size=n)})
    scan = bias_scan(features, ["wage_gap"], population["selected"].to_numpy(), max_clusters=3)
    return FairnessAudit(as_of=None, k=20, sponsors=n, min_ratio=0.8,
                         groups={RESTRICTED_GROUPING: group_metrics(population,
                                                                    RESTRICTED_GROUPING)},
                         proxy={"attribute": RESTRICTED_GROUPING, "sponsors": n,
                                "classes": {"EAST_ASIA": 100, "SOUTH_ASIA": 100},
                                "balanced_accuracy": 0.52, "balanced_accuracy_chance": 0.5,
                                "auc_macro": 0.53, "auc_chance": 0.5,
                                "strongest_proxies": [{"feature": "wage_gap", "description": "",
                                                       "balanced_accuracy_drop": 0.01,
                                                       "std": 0.01}]},
                         bias_scan=scan)


def _card(feature_names: list[str], descriptions: dict[str, str]) -> dict:
    return build_model_card(
        name="sponsor-risk", version="3", run_id="abc", feature_names=feature_names,
        descriptions=descriptions, directions={f: 1 for f in feature_names},
        training_window={"until": "2025-12-31", "horizon_months": 12},
        data={"rows": 1000, "labelled_rows": 120, "sponsors": 400},
        metrics={"xgboost.random.precision_at_100": 0.3, "xgboost.labelled.auc_roc": 0.8,
                 "xgboost.labelled.brier": float("nan"), "logistic.random.auc_roc": 0.7},
        fairness=json_safe(_audit().to_dict()), capacity=100, horizon_months=12,
        fairness_min_ratio=0.8)


def test_card_of_the_registered_features_names_no_restricted_field() -> None:
    from features.registry import FEATURES, feature_names

    names = feature_names(True)
    card = _card(names, {n: FEATURES[n].description for n in names})
    listed = [f["name"] for f in card["features"]]
    assert listed == names
    assert restricted_features(listed) == []
    assert not any("nationality" in f["name"] or "nationality" in f["description"].lower()
                   for f in card["features"])
    assert all(f["description"] for f in card["features"])
    assert "nationality" in card["excluded_attributes"]
    assert "ethnicity" in card["excluded_attributes"]


def test_card_refuses_a_model_with_a_restricted_feature() -> None:
    with pytest.raises(ValueError, match="restricted"):
        _card(["wage_gap", "nationality"], {})
    with pytest.raises(ValueError, match="restricted"):
        _card(["wage_gap", "share_country_of_origin_x"], {})


def test_card_carries_the_register_fields_metrics_and_fairness() -> None:
    card = _card(["wage_gap"], {"wage_gap": "How far wages fall short"})
    register = card["algorithm_register"]
    assert all(register.get(field) for field in REGISTER_FIELDS), [
        f for f in REGISTER_FIELDS if not register.get(f)]
    assert register["publication_category"] == PUBLICATION_CATEGORY
    assert "Annex III point 7" in register["publication_category"]
    # Only the served model's metrics, NaN as null, other model kinds left out.
    assert card["metrics"]["holdout"] == {"random": {"precision_at_100": 0.3},
                                          "labelled": {"auc_roc": 0.8, "brier": None}}
    assert card["fairness"]["gate"]["min_ratio"] == 0.8
    assert card["fairness"]["proxy_check"]["auc_macro"] == 0.53
    assert RESTRICTED_GROUPING in card["fairness"]["groups"]
    json.dumps(json_safe(card), allow_nan=False)  # strict JSON
    assert "never a sanction" in card["intended_use"]


def test_markdown_has_every_section() -> None:
    text = card_markdown(_card(["wage_gap"], {"wage_gap": "How far wages fall short"}))
    for heading in ("## Purpose", "## Intended use", "## Data", "## Features",
                    "## Excluded attributes", "## Metrics", "## Fairness", "### Proxy check",
                    "### Bias scan", "## Known limits", "## Human oversight",
                    "## Algorithm register", "## Contact"):
        assert heading in text, heading
    assert "| `wage_gap` | higher = riskier | How far wages fall short |" in text
    assert "Selective labels" in text


def test_card_cache_round_trip(settings: Settings) -> None:
    card = _card(["wage_gap"], {"wage_gap": "How far wages fall short"})
    write_card(card, card_cache_dir(settings, "3"))
    assert load_model_card(settings, "3", None)["model"]["version"] == "3"
    with pytest.raises(LookupError):
        load_model_card(settings, "4", None)


def test_card_is_fetched_from_the_run_when_not_cached(settings: Settings, tmp_path) -> None:
    from training.governance.model_card import CARD_ARTIFACT_DIR
    from training.registry.tracking import client, ensure_experiment

    mlflow_client = client(settings)
    run_id = mlflow_client.create_run(ensure_experiment(settings, "card-test")).info.run_id
    card = _card(["wage_gap"], {"wage_gap": "How far wages fall short"})
    write_card(card, tmp_path / "card")
    mlflow_client.log_artifacts(run_id, str(tmp_path / "card"), CARD_ARTIFACT_DIR)
    assert load_model_card(settings, "7", run_id)["model"]["run_id"] == "abc"
    assert (card_cache_dir(settings, "7") / "model_card.json").exists()
    with pytest.raises(LookupError, match="no model card"):
        load_model_card(settings, "8", mlflow_client.create_run(
            ensure_experiment(settings, "card-test")).info.run_id)
