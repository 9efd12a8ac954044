"""The service without a model: start-up rules, keys and roles, health, metrics, admin keys.

Endpoints that need the model and snapshot are tested in test_api.py against a real
trained model.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr, ValidationError
from sqlalchemy.orm import Session

from serving.app import create_app
from serving.keys import issue_key
from sponsorwatch.settings import DEVELOPMENT_SECRET, Settings


@pytest.fixture
def bare_client(tmp_path: Path) -> Iterator[TestClient]:
    """A running app on an empty home (no model, no snapshot)."""
    with TestClient(create_app(Settings(home=tmp_path / "home"))) as client:
        yield client


def make_key(client: TestClient, role: str) -> str:
    app = client.app
    with Session(app.state.engine) as session:  # type: ignore[attr-defined]
        return issue_key(session, app.state.settings.secret_key.get_secret_value(),  # type: ignore[attr-defined]
                         role).api_key


@pytest.mark.parametrize("secret", ["", DEVELOPMENT_SECRET])
def test_production_refuses_default_or_empty_secret(secret: str, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="SPONSORWATCH_SECRET_KEY"):
        Settings(home=tmp_path, environment="production", secret_key=SecretStr(secret))


def test_production_starts_with_a_real_secret(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPONSORWATCH_ENVIRONMENT", "production")
    monkeypatch.setenv("SPONSORWATCH_SECRET_KEY", "s3cr3t-for-this-test-only")
    monkeypatch.setenv("SPONSORWATCH_SESSION_SECRET", "another-s3cr3t-for-the-sessions")
    monkeypatch.setenv("SPONSORWATCH_HOME", str(tmp_path / "home"))
    with TestClient(create_app()) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
    monkeypatch.delenv("SPONSORWATCH_SECRET_KEY")
    with pytest.raises(ValidationError):
        create_app()


def test_health_and_not_ready_without_model(bare_client: TestClient) -> None:
    assert bare_client.get("/healthz").status_code == 200
    ready = bare_client.get("/readyz")
    assert ready.status_code == 503
    body = ready.json()
    assert body["ready"] is False and body["checks"]["model"] != "ok"
    assert "score snapshot" in body["checks"]["snapshot"]


def test_data_endpoints_refuse_missing_and_wrong_keys(bare_client: TestClient) -> None:
    requests = [("post", "/v1/scores", {"sponsor_ids": ["12345678"]}),
                ("get", "/v1/sponsors", None), ("get", "/v1/sponsors/12345678", None),
                ("get", "/v1/model", None), ("post", "/v1/admin/reload", None),
                ("get", "/v1/admin/keys", None)]
    for method, path, body in requests:
        missing = bare_client.request(method, path, json=body)
        assert missing.status_code == 401, path
        assert "X-API-Key" in missing.json()["detail"]
        wrong = bare_client.request(method, path, json=body, headers={"X-API-Key": "sw_x_y"})
        assert wrong.status_code == 401, path
        assert wrong.json()["detail"] == "unknown or revoked API key"


@pytest.mark.parametrize(("role", "path", "method", "allowed"), [
    ("case-system", "/v1/sponsors", "get", False),
    ("case-system", "/v1/admin/keys", "get", False),
    ("analyst", "/v1/scores", "post", False),
    ("analyst", "/v1/admin/keys", "get", False),
    ("analyst", "/v1/sponsors", "get", True),
    ("case-system", "/v1/scores", "post", True),
    ("admin", "/v1/scores", "post", True),
    ("admin", "/v1/sponsors", "get", True),
])
def test_roles(bare_client: TestClient, role: str, path: str, method: str,
               allowed: bool) -> None:
    key = make_key(bare_client, role)
    body = {"sponsor_ids": ["12345678"]} if method == "post" else None
    response = bare_client.request(method, path, json=body, headers={"X-API-Key": key})
    if allowed:
        # past the role check; without a snapshot the service says what is missing
        assert response.status_code in (200, 503), response.text
        if response.status_code == 503:
            assert "no snapshot loaded" in response.json()["detail"]
    else:
        assert response.status_code == 403
        assert role in response.json()["detail"]


def test_admin_manages_keys_and_revocation_is_immediate(bare_client: TestClient) -> None:
    admin = {"X-API-Key": make_key(bare_client, "admin")}
    created = bare_client.post("/v1/admin/keys", json={"role": "analyst", "label": "bob"},
                               headers=admin)
    assert created.status_code == 201
    new = created.json()
    analyst = {"X-API-Key": new["api_key"]}
    assert bare_client.get("/v1/model", headers=analyst).status_code == 503  # no model yet
    listed = bare_client.get("/v1/admin/keys", headers=admin).json()
    assert {k["key_id"] for k in listed} >= {new["key_id"]}
    assert all("api_key" not in k for k in listed)
    revoked = bare_client.delete(f"/v1/admin/keys/{new['key_id']}", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert bare_client.get("/v1/model", headers=analyst).status_code == 401
    assert bare_client.delete("/v1/admin/keys/nosuch", headers=admin).status_code == 404
    bad_role = bare_client.post("/v1/admin/keys", json={"role": "root"}, headers=admin)
    assert bad_role.status_code == 422


def test_metrics_count_requests_by_route(bare_client: TestClient) -> None:
    bare_client.get("/healthz")
    bare_client.get("/v1/sponsors/12345678")
    text = bare_client.get("/metrics").text
    assert 'sponsorwatch_http_requests_total{method="GET",route="/healthz",status="200"}' in text
    assert 'route="/v1/sponsors/{sponsor_id}",status="401"' in text
    assert "sponsorwatch_audit_pending" in text
