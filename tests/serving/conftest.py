"""Fixtures of the serving tests: service databases on SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from serving.app import create_app
from serving.db import create_schema, make_engine
from serving.keys import Role, issue_key
from sponsorwatch.settings import Settings


@pytest.fixture(params=["sqlite", "postgres"])
def db_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty service database: SQLite in a temp folder, or a fresh schema on a real
    PostgreSQL server (dropped afterwards)."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'service.db'}")
        create_schema(engine)
        yield engine
        engine.dispose()
        return
    url = request.getfixturevalue("postgres_url")
    schema = f"sw_test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(url, schema=schema)
    try:
        create_schema(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@dataclass
class Api:
    """A running service on a copy of the scored home, with one key per role."""

    client: TestClient
    settings: Settings
    headers: dict[str, dict[str, str]]

    def flush_audit(self) -> None:
        self.client.app.state.audit.flush()  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def _own_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """mlflow.set_tracking_uri leaves MLFLOW_TRACKING_URI in the environment, and Settings
    prefers it to the home's registry: clear it so each test's home uses its own."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


def home_settings(home: Path) -> Settings:
    """Settings of a home with its own SQLite registry named explicitly."""
    return Settings(home=home, mlflow_tracking_uri=f"sqlite:///{home / 'mlflow.db'}")


def start_api(home: Path) -> Iterator[Api]:
    settings = home_settings(home)
    with TestClient(create_app(settings)) as client:
        headers = {}
        with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
            for role in Role:
                issued = issue_key(session, settings.secret_key.get_secret_value(), role)
                headers[role.value] = {"X-API-Key": issued.api_key}
        yield Api(client, settings, headers)


def copy_home(scored_home: Path, target: Path) -> Path:
    shutil.copytree(scored_home, target)
    return target


@pytest.fixture(scope="module")
def api(scored_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """The service on its own copy of the scored home (module-wide)."""
    yield from start_api(copy_home(scored_home, tmp_path_factory.mktemp("api") / "home"))
