"""Issue 17 items 1, 5 and 6 without a model: safe defaults (serve, config check, session
secret, Secure cookie), quiet health and errors, offline API docs, keys and throttling."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from itsdangerous import TimestampSigner
from pydantic import SecretStr, ValidationError
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from serving.app import create_app
from serving.keys import KeyVerifier, Role, issue_key, revoke_key
from serving.state import ServingState
from sponsorwatch.settings import DEVELOPMENT_SECRET, Settings

PROD = {"SPONSORWATCH_ENVIRONMENT": "production",
        "SPONSORWATCH_SECRET_KEY": "key-hashing-secret-of-this-test",
        "SPONSORWATCH_SESSION_SECRET": "session-secret-of-this-test-only"}


@pytest.fixture
def bare(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(home=tmp_path / "home"))) as client:
        yield client


def make_key(client: TestClient, role: Role) -> tuple[str, str]:
    app = client.app
    with Session(app.state.engine) as session:  # type: ignore[attr-defined]
        issued = issue_key(session, app.state.settings.secret_key.get_secret_value(),  # type: ignore[attr-defined]
                           role)
    return issued.key_id, issued.api_key


# --- 1. safe by default ----------------------------------------------------------------------

def cli(home: Path, *args: str, env: dict[str, str] | None = None):  # noqa: ANN201
    from cli.main import app

    return CliRunner().invoke(app, ["--home", str(home), *args], env=env)


def test_serve_refuses_a_public_address_with_the_development_defaults(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    started: list[dict] = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: started.append(k))
    for var in PROD:
        monkeypatch.delenv(var, raising=False)
    refused = cli(tmp_path / "home", "serve", "--host", "0.0.0.0")
    assert refused.exit_code == 2 and not started
    assert "development secret" in refused.output and "Secure" in refused.output
    assert cli(tmp_path / "home", "serve", "--host", "127.0.0.1").exit_code == 0  # the demo's
    assert len(started) == 1
    safe = cli(tmp_path / "home", "serve", "--host", "0.0.0.0", env=PROD)
    assert safe.exit_code == 0, safe.output
    assert len(started) == 2 and started[-1]["host"] == "0.0.0.0"


def test_config_check_lists_what_is_unsafe(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    for var in PROD:
        monkeypatch.delenv(var, raising=False)
    unsafe = cli(tmp_path, "config", "check")
    assert unsafe.exit_code == 1
    assert "SPONSORWATCH_SECRET_KEY is the public development secret" in unsafe.output
    assert "SPONSORWATCH_SESSION_SECRET is not set" in unsafe.output
    assert "not marked Secure" in unsafe.output
    safe = cli(tmp_path, "config", "check", env=PROD)
    assert safe.exit_code == 0 and "safe" in safe.output


def test_production_needs_a_session_secret_apart_from_the_key_secret(tmp_path: Path) -> None:
    secret = SecretStr("a-real-key-hashing-secret")
    with pytest.raises(ValidationError, match="SESSION_SECRET"):
        Settings(home=tmp_path, environment="production", secret_key=secret)
    with pytest.raises(ValidationError, match="SESSION_SECRET"):
        Settings(home=tmp_path, environment="production", secret_key=secret,
                 session_secret=secret)
    development = Settings(home=tmp_path)
    assert development.session_signing_secret != DEVELOPMENT_SECRET


def forged_session(secret: str, key_id: str, role: str = "admin") -> str:
    data = base64.b64encode(json.dumps({"key_id": key_id, "role": role, "csrf": "x",
                                        "since": int(time.time())}).encode())
    return TimestampSigner(secret).sign(data).decode()


def test_a_session_forged_with_the_public_secret_is_refused(bare: TestClient) -> None:
    key_id, _ = make_key(bare, Role.ADMIN)
    bare.cookies.set("sponsorwatch_session", forged_session(DEVELOPMENT_SECRET, key_id))
    page = bare.get("/model", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/sign-in")


def test_session_cookie_is_secure_outside_development(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    for var, value in PROD.items():
        monkeypatch.setenv(var, value)
    monkeypatch.setenv("SPONSORWATCH_HOME", str(tmp_path / "home"))
    with TestClient(create_app(), base_url="https://testserver") as client:
        cookie = client.get("/sign-in").headers["set-cookie"].lower()
    assert "sponsorwatch_session=" in cookie and "; secure" in cookie and "httponly" in cookie


# --- 5. quiet health and errors --------------------------------------------------------------

LEAKY = {"model": "cannot load model sponsor-risk@champion: could not connect to "
                  "postgresql+psycopg://sw:hunter2@db.internal.example:5432/mlflow",
         "snapshot": "no score snapshot under /srv/secret/home/scores: [Errno 2] No such "
                     "file or directory: '/srv/secret/home/scores'"}


def test_readyz_says_why_in_words_without_paths_hosts_or_credentials(
        bare: TestClient) -> None:
    bare.app.state.serving = ServingState(model=None, snapshot=None, problems=dict(LEAKY))  # type: ignore[attr-defined]
    ready = bare.get("/readyz")
    assert ready.status_code == 503
    body = ready.json()
    assert body["ready"] is False
    assert body["checks"]["model"].startswith("no model loaded")
    assert body["checks"]["snapshot"].startswith("no score snapshot loaded")
    for secret in ("hunter2", "db.internal", "/srv/secret", "Errno", "postgresql"):
        assert secret not in ready.text, secret


def test_keyed_errors_do_not_carry_paths_or_credentials(bare: TestClient) -> None:
    bare.app.state.serving = ServingState(model=None, snapshot=None, problems=dict(LEAKY))  # type: ignore[attr-defined]
    _, key = make_key(bare, Role.ANALYST)
    answer = bare.get("/v1/sponsors", headers={"X-API-Key": key})
    assert answer.status_code == 503
    for secret in ("hunter2", "db.internal", "/srv/secret"):
        assert secret not in answer.text, secret


def test_credentials_in_urls_are_redacted() -> None:
    from sponsorwatch.settings import redact_credentials

    text = ("no version in postgresql+psycopg://sw:p@ss@db:5432/x or https://u:t@h/m; "
            "sqlite:////tmp/mlflow.db stays")
    assert redact_credentials(text) == ("no version in postgresql+psycopg://***@db:5432/x or "
                                        "https://***@h/m; sqlite:////tmp/mlflow.db stays")


ASSET = re.compile(r'(?:src|href)\s*=\s*["\']([^"\']+)["\']|url:\s*["\']([^"\']+)["\']')


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_api_docs_load_only_same_origin_assets(bare: TestClient, page: str) -> None:
    html = bare.get(page).text
    assets = [a or b for a, b in ASSET.findall(html)]
    assert assets and all(a.startswith("/") and not a.startswith("//") for a in assets), assets
    assert "cdn" not in html.lower() and "fonts.googleapis" not in html
    for asset in assets:
        assert bare.get(asset).status_code == 200, asset


# --- 6. keys ---------------------------------------------------------------------------------

def test_a_flood_of_unknown_keys_does_not_evict_valid_ones(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from serving.db import create_schema, make_engine

    db_engine = make_engine(f"sqlite:///{tmp_path / 'service.db'}")
    create_schema(db_engine)
    with Session(db_engine) as session:
        issued = issue_key(session, "s", Role.CASE_SYSTEM)
    now = time.monotonic()
    monkeypatch.setattr("serving.keys.time.monotonic", lambda: now)  # the flood takes no time
    verifier = KeyVerifier(db_engine, "s")
    assert verifier.verify(issued.api_key) is not None
    for i in range(10_050):
        verifier.verify(f"sw_{i:08x}_made-up")
    assert verifier.cached(issued.api_key)[0], "the valid key was evicted"


def test_a_revocation_reaches_every_worker_within_5_seconds(
        db_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    from serving.web.session import KeyStatus

    with Session(db_engine) as session:
        issued = issue_key(session, "s", Role.ANALYST)
    worker_a, worker_b = KeyVerifier(db_engine, "s"), KeyVerifier(db_engine, "s")
    pages_b = KeyStatus(db_engine)
    assert worker_a.verify(issued.api_key) and worker_b.verify(issued.api_key)
    assert pages_b.role_of(issued.key_id) is Role.ANALYST
    with Session(db_engine) as session:  # revoked through worker A (or the CLI)
        revoke_key(session, issued.key_id)
    worker_a.forget(issued.key_id)
    assert worker_a.verify(issued.api_key) is None
    later = time.monotonic() + 5.0
    monkeypatch.setattr("serving.keys.time.monotonic", lambda: later)
    assert worker_b.verify(issued.api_key) is None
    assert pages_b.role_of(issued.key_id) is None


def test_sign_in_is_throttled_per_key_from_any_address() -> None:
    from serving.web.session import SignInThrottle

    throttle = SignInThrottle(max_failures=3, max_key_failures=5)
    for i in range(5):
        throttle.failed(f"10.0.0.{i}", "sw_abcd1234_guess")
    assert throttle.blocked("10.9.9.9", "sw_abcd1234_other")
    assert not throttle.blocked("10.9.9.9", "sw_ffff0000_other")
    assert not throttle.blocked("10.9.9.9")


def test_a_flood_of_addresses_does_not_reset_the_throttle() -> None:
    from serving.web.session import SignInThrottle

    throttle = SignInThrottle(max_failures=3, max_tracked=100)
    for _ in range(3):
        throttle.failed("203.0.113.7")
    for i in range(150):
        throttle.failed(f"198.51.100.{i}")
    assert throttle.blocked("203.0.113.7")  # not forgotten to make room for the others


def sign_in_statuses(client: TestClient, forwarded: list[str]) -> list[int]:
    from tests.serving.web.conftest import csrf_of

    csrf = csrf_of(client.get("/sign-in").text)
    return [client.post("/sign-in", data={"api_key": f"sw_x{i}_bad", "csrf": csrf},
                        headers={"X-Forwarded-For": ip}).status_code
            for i, ip in enumerate(forwarded)]


def test_behind_a_trusted_proxy_each_client_has_its_own_throttle(tmp_path: Path) -> None:
    from serving.web.session import SignInThrottle

    settings = Settings(home=tmp_path / "home", trusted_proxies="testclient")
    with TestClient(create_app(settings)) as client:
        client.app.state.sign_in_throttle = SignInThrottle(max_failures=3)  # type: ignore[attr-defined]
        statuses = sign_in_statuses(client, ["10.0.0.1"] * 4 + ["10.0.0.2"])
    assert statuses == [401, 401, 401, 429, 401]


def test_the_sign_in_page_throttles_one_key_guessed_from_many_addresses(tmp_path: Path) -> None:
    from serving.web.session import SignInThrottle
    from tests.serving.web.conftest import csrf_of

    settings = Settings(home=tmp_path / "home", trusted_proxies="testclient")
    with TestClient(create_app(settings)) as client:
        client.app.state.sign_in_throttle = SignInThrottle(  # type: ignore[attr-defined]
            max_failures=3, max_key_failures=2)
        csrf = csrf_of(client.get("/sign-in").text)
        statuses = [client.post("/sign-in", data={"api_key": f"sw_abcd1234_guess{i}",
                                                  "csrf": csrf},
                                headers={"X-Forwarded-For": f"10.0.0.{i}"}).status_code
                    for i in range(3)]
    assert statuses == [401, 401, 429]


def test_forwarded_addresses_from_untrusted_clients_are_ignored(bare: TestClient) -> None:
    from serving.web.session import SignInThrottle

    bare.app.state.sign_in_throttle = SignInThrottle(max_failures=3)  # type: ignore[attr-defined]
    statuses = sign_in_statuses(bare, ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"])
    assert statuses == [401, 401, 401, 429]


def test_keys_issued_and_revoked_with_the_cli_are_in_the_trail(tmp_path: Path) -> None:
    from serving.audit import iter_audit
    from serving.db import make_engine

    home = tmp_path / "home"
    created = cli(home, "keys", "create", "--role", "analyst", "--label", "ann")
    key_id = created.stdout.strip().splitlines()[-1].split("_")[1]
    assert cli(home, "keys", "revoke", key_id).exit_code == 0
    events = [r for r in iter_audit(make_engine(f"sqlite:///{home / 'service.db'}"))
              if (r["detail"] or {}).get("key_id") == key_id]
    assert [e["endpoint"] for e in events] == ["CLI keys create", "CLI keys revoke"]
    assert all(e["key_id"].startswith("cli") and e["role"] == "cli" for e in events)
