"""The serving commands: demo (via the scored_home fixture), keys, audit export."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from cli.main import app
from tests.serving.conftest import copy_home, start_api
from training.fitting.scoring import score_dates


def run(home: Path, *args: str) -> str:
    result = CliRunner().invoke(app, ["--home", str(home), *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_demo_leaves_a_served_ranking_and_a_working_key(scored_home: Path,
                                                        tmp_path: Path) -> None:
    output = (scored_home.parent / "demo.log").read_text()
    for stage in ("simulate", "ingest", "features", "train", "promote", "score"):
        assert stage in output
    assert "promoted version" in output and "/docs" in output
    key = re.search(r"admin key\s+(sw_\S+)", output)
    assert key is not None
    assert len(score_dates(scored_home / "scores")) == 3
    api = next(start_api(copy_home(scored_home, tmp_path / "home")))
    page = api.client.get("/v1/sponsors?page_size=3", headers={"X-API-Key": key.group(1)})
    assert page.status_code == 200 and len(page.json()["items"]) == 3


def test_keys_commands(tmp_path: Path) -> None:
    home = tmp_path / "home"
    created = CliRunner().invoke(app, ["--home", str(home), "keys", "create", "--role",
                                       "case-system", "--label", "case system A"])
    assert created.exit_code == 0
    api_key = created.stdout.strip().splitlines()[-1]
    key_id = api_key.split("_")[1]
    listed = run(home, "keys", "list")
    assert key_id in listed and "case-system" in listed and api_key not in listed
    assert "revoked" in run(home, "keys", "revoke", key_id)
    missing = CliRunner().invoke(app, ["--home", str(home), "keys", "revoke", "nope"])
    assert missing.exit_code == 1
    bad_role = CliRunner().invoke(app, ["--home", str(home), "keys", "create", "--role", "root"])
    assert bad_role.exit_code != 0


def test_audit_export_and_purge_commands(scored_home: Path, tmp_path: Path) -> None:
    api = next(start_api(copy_home(scored_home, tmp_path / "home")))
    sponsor = api.client.app.state.serving.snapshot.frame["sponsor_id"][0]  # type: ignore[attr-defined]
    api.client.post("/v1/scores", headers=api.headers["case-system"],
                    json={"sponsor_ids": [sponsor]})
    api.flush_audit()
    out = tmp_path / "audit.jsonl"
    # The demo's promotion of its first model and its admin key, then the score shown.
    assert "3 audit rows" in run(api.settings.home, "audit", "export", "-o", str(out),
                                 "--format", "jsonl")
    promotion, key, row = (json.loads(line) for line in out.read_text().splitlines())
    assert promotion["endpoint"].startswith("CLI promote") and "FORCED by" in promotion["endpoint"]
    assert key["endpoint"] == "CLI demo" and key["detail"]["key_role"] == "admin"
    assert key["key_id"].startswith("cli")
    assert row["sponsor_ids"] == [sponsor] and row["endpoint"] == "POST /v1/scores"
    assert "0 audit rows older than 183 days" in run(api.settings.home, "audit", "purge")
    bad = CliRunner().invoke(app, ["--home", str(api.settings.home), "audit", "export", "-o",
                                   str(out), "--since", "last week"])
    assert bad.exit_code != 0 and "ISO 8601" in bad.output
