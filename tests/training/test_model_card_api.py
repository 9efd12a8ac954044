"""The card of the model trained on the small simulated world: generated at training,
logged to its run, served at GET /v1/model/card and printed by `sponsorwatch model-card`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from cli.main import app as cli
from sponsorwatch.settings import Settings
from training.governance.model_card import (
    PUBLICATION_CATEGORY,
    card_cache_dir,
    restricted_features,
)


@pytest.fixture
def home(scored_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    copy = tmp_path / "home"
    shutil.copytree(scored_home, copy)
    return copy


def _settings(home: Path) -> Settings:
    return Settings(home=home, mlflow_tracking_uri=f"sqlite:///{home / 'mlflow.db'}")


def _get_card(settings: Settings):  # noqa: ANN202 - an httpx Response
    from serving.app import create_app
    from serving.keys import Role, issue_key

    with TestClient(create_app(settings)) as client:
        with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
            key = issue_key(session, settings.secret_key.get_secret_value(), Role.ANALYST)
        return client.get("/v1/model/card", headers={"X-API-Key": key.api_key})


def test_served_card_of_the_trained_champion(home: Path) -> None:
    settings = _settings(home)
    response = _get_card(settings)
    assert response.status_code == 200, response.text
    card = response.json()
    features = [f["name"] for f in card["features"]]
    assert features and restricted_features(features) == []
    assert "nationality" not in features
    assert card["algorithm_register"]["publication_category"] == PUBLICATION_CATEGORY
    fairness = card["fairness"]
    assert set(fairness["groups"]) == {"nationality_mix", "sector", "size_class",
                                       "postcode_area"}
    assert "auc_macro" in fairness["proxy_check"] or "skipped" in fairness["proxy_check"]
    assert "flagged_clusters" in fairness["bias_scan"]
    # the model's contributions were at hand, so the gap is attributed or says why not
    assert "groups" in fairness["gap_attribution"] or (
        "no model contributions" not in fairness["gap_attribution"]["skipped"])
    assert card["model"]["version"] == response.json()["algorithm_register"]["version"]


def test_missing_card_is_a_404_and_the_command_fetches_it_from_the_run(home: Path) -> None:
    settings = _settings(home)
    shutil.rmtree(settings.home / "model_cards")
    response = _get_card(settings)
    assert response.status_code == 404
    assert "sponsorwatch model-card" in response.json()["detail"]
    result = CliRunner().invoke(cli, ["--home", str(home), "model-card"],
                                env={"SPONSORWATCH_MLFLOW_TRACKING_URI":
                                     settings.tracking_uri})
    assert result.exit_code == 0, result.output
    assert result.output.startswith("# Model card: sponsor-risk version")
    version = result.output.split("version ", 1)[1].split()[0]
    assert (card_cache_dir(settings, version) / "model_card.json").exists()
    assert _get_card(settings).status_code == 200
