"""Loading the champion: once at start-up, again on reload; the registry may be gone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.serving.conftest import Api, copy_home, home_settings, start_api


@pytest.fixture
def own_api(scored_home: Path, tmp_path: Path) -> Iterator[Api]:
    """A service on a private copy of the scored home (its registry may be changed)."""
    yield from start_api(copy_home(scored_home, tmp_path / "home"))


def test_reload_picks_up_a_new_champion(own_api: Api) -> None:
    from training.registry.tracking import CHAMPION, client, tracking

    before = own_api.client.get("/v1/model", headers=own_api.headers["admin"]).json()
    mlflow_client = client(own_api.settings)
    name = own_api.settings.model_name
    champion = mlflow_client.get_model_version_by_alias(name, CHAMPION)
    # A new version of the same run, promoted: what `sponsorwatch promote` does.
    with tracking(own_api.settings):  # MLflow resolves a models:/ source on the global store
        new = mlflow_client.create_model_version(name, champion.source, run_id=champion.run_id)
    mlflow_client.set_registered_model_alias(name, CHAMPION, new.version)
    # Nothing changes until the reload: the model is never loaded per request.
    assert own_api.client.get("/v1/model", headers=own_api.headers["analyst"]).json()[
        "version"] == before["version"]
    assert own_api.client.post("/v1/admin/reload",
                               headers=own_api.headers["analyst"]).status_code == 403
    reloaded = own_api.client.post("/v1/admin/reload", headers=own_api.headers["admin"])
    assert reloaded.status_code == 200, reloaded.text
    assert reloaded.json()["reloaded"] is True
    assert reloaded.json()["model_version"] == str(new.version) != before["version"]
    after = own_api.client.get("/v1/model", headers=own_api.headers["admin"]).json()
    assert after["version"] == str(new.version) and after["source"] == "registry"
    metrics = own_api.client.get("/metrics").text
    assert f'sponsorwatch_model_info{{source="registry",version="{new.version}"}} 1.0' in metrics


def test_unreachable_registry_keeps_the_loaded_model(own_api: Api, tmp_path: Path) -> None:
    app = own_api.client.app
    version = app.state.serving.model.version  # type: ignore[attr-defined]
    app.state.settings = own_api.settings.model_copy(  # type: ignore[attr-defined]
        update={"mlflow_tracking_uri": f"sqlite:///{tmp_path / 'gone' / 'mlflow.db'}"})
    reloaded = own_api.client.post("/v1/admin/reload", headers=own_api.headers["admin"])
    assert reloaded.status_code == 200
    assert reloaded.json()["model_version"] == version
    info = own_api.client.get("/v1/model", headers=own_api.headers["admin"]).json()
    assert info["version"] == version and info["source"] == "cache"
    sponsor = app.state.serving.snapshot.frame["sponsor_id"][0]  # type: ignore[attr-defined]
    scored = own_api.client.post("/v1/scores", headers=own_api.headers["case-system"],
                                 json={"sponsor_ids": [sponsor]})
    assert scored.status_code == 200 and scored.json()["results"]


def test_start_up_without_registry_serves_the_local_copy(scored_home: Path,
                                                         tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from serving.app import create_app

    home = copy_home(scored_home, tmp_path / "home")
    with TestClient(create_app(home_settings(home))) as client:  # leaves the local copy
        version = client.app.state.serving.model.version  # type: ignore[attr-defined]
    (home / "mlflow.db").unlink()
    with TestClient(create_app(home_settings(home))) as client:
        ready = client.get("/readyz").json()
        assert ready["ready"] is True and ready["model_version"] == version
        assert client.app.state.serving.model.source == "cache"  # type: ignore[attr-defined]


def test_reload_without_any_model_is_503_and_keeps_serving(own_api: Api, tmp_path: Path) -> None:
    import shutil

    from serving.state import model_cache_dir

    app = own_api.client.app
    shutil.rmtree(model_cache_dir(own_api.settings))
    app.state.settings = own_api.settings.model_copy(  # type: ignore[attr-defined]
        update={"mlflow_tracking_uri": f"sqlite:///{tmp_path / 'gone' / 'mlflow.db'}"})
    reloaded = own_api.client.post("/v1/admin/reload", headers=own_api.headers["admin"])
    # the previous model stays in memory: the reload says so and the service keeps going
    assert reloaded.status_code == 200
    body = reloaded.json()
    assert body["reloaded"] is False and "kept previous model" in body["message"]
    assert own_api.client.get("/readyz").json()["ready"] is True
