"""``sponsorwatch monitor`` end to end on a copy of the tests' scored home (a real champion,
feature store, score store and warehouse): the report written atomically under
``<home>/monitoring/``, logged to MLflow on the model version, ``--fail-on-alert`` as an exit
code, the model-health page and the gauges on ``/metrics``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from cli.monitoring import ALERT_EXIT_CODE
from tests.serving.conftest import copy_home, home_settings, start_api
from tests.serving.web.conftest import key_of, sign_in

#: Thresholds no snapshot reaches, and one every snapshot does.
QUIET = {"SPONSORWATCH_MONITOR_STEP_PSI": "1000", "SPONSORWATCH_MONITOR_REFERENCE_PSI": "1000",
         "SPONSORWATCH_MONITOR_SCORE_STEP_PSI": "1000", "SPONSORWATCH_MONITOR_MIN_TOP_OVERLAP": "0",
         "SPONSORWATCH_MONITOR_CALIBRATION_GAP": "1", "SPONSORWATCH_MONITOR_NULL_JUMP": "1",
         "SPONSORWATCH_MONITOR_EMPTY_JUMP": "1", "SPONSORWATCH_MONITOR_SECTOR_RATIO": "1000"}
TOUCHY = {**QUIET, "SPONSORWATCH_MONITOR_REFERENCE_PSI": "0.000001"}


@pytest.fixture(scope="module")
def home(scored_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_home(scored_home, tmp_path_factory.mktemp("monitor") / "home")


def _monitor(home: Path, env: dict[str, str], *args: str):  # noqa: ANN202 - click Result
    env = {**env, "SPONSORWATCH_MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}"}
    return CliRunner().invoke(app, ["--home", str(home), "monitor", *args], env=env)


def test_monitor_exits_non_zero_on_an_alert_only_with_fail_on_alert(home: Path) -> None:
    quiet = _monitor(home, QUIET, "--fail-on-alert")
    assert quiet.exit_code == 0, quiet.output
    assert ": OK" in quiet.output
    touchy = _monitor(home, TOUCHY, "--no-log")
    assert touchy.exit_code == 0, touchy.output
    assert ": ALERT" in touchy.output and "alert: feature_drift" in touchy.output
    failing = _monitor(home, TOUCHY, "--fail-on-alert", "--no-log")
    assert failing.exit_code == ALERT_EXIT_CODE, failing.output


def test_the_report_is_written_and_logged_on_the_model_version(home: Path) -> None:
    from mlflow import MlflowClient

    from training.fitting.scoring import score_dates
    from training.monitoring.store import read_reports

    result = _monitor(home, TOUCHY, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    day = score_dates(home / "scores")[-1]
    assert report["as_of"] == str(day) and report["status"] == "alert"
    assert report["reference"]["dates"], "the champion's training snapshots are the reference"
    assert {r["feature"] for r in report["features"]} >= {"salary_ratio_median",
                                                          "permits_36m"}
    assert set(report["outcomes"]["metrics"]) >= {"base_rate", "precision_at_10"}
    stored = read_reports(home / "monitoring")
    assert stored[-1]["as_of"] == str(day)
    assert not list((home / "monitoring").glob("*.tmp*")), "written atomically"

    settings = home_settings(home)
    client = MlflowClient(settings.tracking_uri)
    version = client.get_model_version(settings.model_name, report["model_version"])
    assert version.tags["monitor.status"] == "alert"
    assert version.tags["monitor.last_as_of"] == str(day)
    experiment = client.get_experiment_by_name("sponsor-risk-monitoring")
    runs = client.search_runs([experiment.experiment_id],
                              f"tags.as_of = '{day}' and tags.status = 'alert'")
    assert runs and runs[0].data.tags["model_version"] == report["model_version"]
    assert runs[0].data.metrics["monitor.alerts"] >= 1
    assert "monitor.psi.salary_ratio_median" in runs[0].data.metrics


def test_the_health_page_and_the_gauges_show_the_latest_report(home: Path) -> None:
    from fastapi.testclient import TestClient

    assert _monitor(home, TOUCHY, "--no-log").exit_code == 0
    for api in start_api(home):
        client = TestClient(api.client.app)
        sign_in(client, key_of(api, "analyst"), "/model/health")
        page = client.get("/model/health")
        assert page.status_code == 200
        assert "Model health" in page.text and 'id="health-status"' in page.text
        assert "feature drifted from the training window" in page.text
        assert "<svg" in page.text, "the trend chart"
        client.post("/language", data={"lang": "nl", "next": "/model/health"})
        assert "Gezondheid van het model" in client.get("/model/health").text

        metrics = api.client.app.state.metrics  # type: ignore[attr-defined]
        metrics.watch_monitoring(home / "monitoring")
        text = api.client.get("/metrics").text
        assert "sponsorwatch_monitor_alert 1.0" in text
        assert 'sponsorwatch_monitor_feature_psi{feature="salary_ratio_median"}' in text


def test_the_health_page_without_a_report_says_how_to_make_one(
        scored_home: Path, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    for api in start_api(copy_home(scored_home, tmp_path / "home")):
        client = TestClient(api.client.app)
        sign_in(client, key_of(api, "analyst"), "/model/health")
        assert "sponsorwatch monitor" in client.get("/model/health").text
