"""Promotion changes what is served, and only honestly: `sponsorwatch promote` refuses a
challenger whose fairness cannot be measured, records a forced promotion's reason and
person on the version and in the audit trail, and rescores the served snapshot; a service
whose champion differs from the snapshot's model scores it again on load, or refuses to be
ready, so that /v1/model, /v1/scores and /v1/sponsors never disagree on the version."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from tests.serving.conftest import Api, copy_home, home_settings, start_api
from training.fitting.scoring import load_score_snapshot


def _cli(home: Path, *args: str) -> tuple[int, str]:
    env = {"SPONSORWATCH_MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}",
           "SPONSORWATCH_PROMOTED_BY": ""}
    result = CliRunner().invoke(app, ["--home", str(home), *args], env=env)
    return result.exit_code, result.output


def _new_version(home: Path, alias: str) -> str:
    """A new registered version of the champion's run under ``alias`` (what `train` leaves
    as challenger, without the training time)."""
    from training.registry.tracking import CHAMPION, client, tracking

    settings = home_settings(home)
    mlflow_client = client(settings)
    champion = mlflow_client.get_model_version_by_alias(settings.model_name, CHAMPION)
    with tracking(settings):  # MLflow resolves a models:/ source on the global store
        new = mlflow_client.create_model_version(settings.model_name, champion.source,
                                                 run_id=champion.run_id)
    mlflow_client.set_registered_model_alias(settings.model_name, alias, new.version)
    return str(new.version)


def _champion(home: Path) -> tuple[str, dict[str, str]]:
    from training.registry.tracking import CHAMPION, client

    settings = home_settings(home)
    version = client(settings).get_model_version_by_alias(settings.model_name, CHAMPION)
    return str(version.version), dict(version.tags)


def _promotions(home: Path) -> list[dict]:
    from serving.audit import PROMOTION_EVENT, iter_audit
    from serving.db import make_engine

    engine = make_engine(home_settings(home).service_database_url)
    try:
        return [r for r in iter_audit(engine) if r["endpoint"].startswith(PROMOTION_EVENT)]
    finally:
        engine.dispose()


def _served_versions(api: Api) -> dict[str, str]:
    """The version each surface reports: model, readiness, scores, ranking."""
    model = api.client.get("/v1/model", headers=api.headers["analyst"]).json()
    ready = api.client.get("/readyz").json()
    page = api.client.get("/v1/sponsors?page_size=2", headers=api.headers["analyst"]).json()
    sponsor = page["items"][0]["sponsor_id"]
    scores = api.client.post("/v1/scores", headers=api.headers["case-system"],
                             json={"sponsor_ids": [sponsor]}).json()
    return {"model": model["version"], "snapshot": model["snapshot_model_version"],
            "readyz": ready["model_version"], "scores": scores["model_version"],
            "score_row": scores["results"][0]["model_version"],
            "sponsors": page["model_version"], "sponsor_row": page["items"][0]["model_version"]}


@pytest.fixture
def home(scored_home: Path, tmp_path: Path) -> Path:
    return copy_home(scored_home, tmp_path / "home")


def test_promote_refuses_unmeasurable_fairness_and_records_a_forced_promotion(
        home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before, _ = _champion(home)
    challenger = _new_version(home, "challenger")
    code, output = _cli(home, "promote")
    # The 400-sponsor world has too few labelled negatives per nationality-mix group.
    assert code == 1, output
    assert "refused to promote" in output and "FAIL fairness: cannot measure" in output
    # Only the demo's own first promotion is on the trail; the refusal moved nothing.
    demo_promotions = _promotions(home)
    assert [r["model_version"] for r in demo_promotions] == [before]
    assert _champion(home)[0] == before

    code, output = _cli(home, "promote", "--force", "--reason", "drill: small world")
    assert code == 1 and "--by" in output
    assert _champion(home)[0] == before

    code, output = _cli(home, "promote", "--force", "--reason", "drill: small world",
                        "--by", "Jane Analyst")
    assert code == 0, output
    version, tags = _champion(home)
    assert version == challenger != before
    assert tags["promotion_reason"] == "drill: small world"
    assert tags["promoted_by"] == "Jane Analyst" and tags["promotion_forced"] == "true"
    [row] = _promotions(home)[len(demo_promotions):]
    assert row["model_version"] == challenger and row["key_id"] == "cli"
    assert "FORCED by Jane Analyst: drill: small world" in row["endpoint"]
    # The served day was scored again by the new champion.
    scores, day = load_score_snapshot(home / "scores")
    assert scores["model_version"].unique().to_list() == [challenger]
    assert row["score_as_of"] == day

    # A promotion through the gates is recorded too (gates stood in for: the world is small).
    import training.registry.promotion as promotion

    monkeypatch.setattr(promotion, "PROMOTION_GATES", [])
    third = _new_version(home, "challenger")
    code, output = _cli(home, "promote", "--by", "A. Reviewer")
    assert code == 0, output
    last = _promotions(home)[-1]
    assert last["model_version"] == third
    assert f"v{third} (was v{challenger}) gates passed by A. Reviewer" in last["endpoint"]

    api = next(start_api(home))
    versions = _served_versions(api)
    assert set(versions.values()) == {third}, versions


@pytest.fixture
def own_api(home: Path) -> Iterator[Api]:
    yield from start_api(home)


def test_reload_after_promotion_serves_the_new_champions_scores(own_api: Api) -> None:
    before = _served_versions(own_api)
    assert len(set(before.values())) == 1, before
    # The alias moves without `sponsorwatch score` (or a promote that could not rescore).
    new = _new_version(own_api.settings.home, "champion")
    reloaded = own_api.client.post("/v1/admin/reload", headers=own_api.headers["admin"])
    assert reloaded.status_code == 200 and reloaded.json()["reloaded"] is True, reloaded.text
    after = _served_versions(own_api)
    assert set(after.values()) == {new} != set(before.values()), after
    ready = own_api.client.get("/readyz").json()
    assert ready["ready"] is True and ready["checks"]["versions"] == "ok"
    # Written back to the store: the next start-up finds the champion's scores.
    scores, _ = load_score_snapshot(own_api.settings.scores_dir)
    assert scores["model_version"].unique().to_list() == [new]


def test_service_refuses_to_be_ready_when_it_cannot_rescore(home: Path) -> None:
    from fastapi.testclient import TestClient

    from serving.app import create_app

    old = _champion(home)[0]
    new = _new_version(home, "champion")
    shutil.rmtree(home / "features")
    shutil.rmtree(home / "warehouse")
    with TestClient(create_app(home_settings(home))) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503
        body = ready.json()
        assert body["ready"] is False and body["model_version"] == new
        reason = body["checks"]["snapshot"]
        assert f"scored by version {old}" in reason and "could not be scored again" in reason
