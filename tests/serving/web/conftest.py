"""Fixtures of the page tests: the service on a copy of the scored home (a real model and
snapshot from the small simulated world) and browsers-without-a-browser (TestClients)
signed in with keys of each role."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest
from fastapi.testclient import TestClient

from tests.serving.conftest import Api, copy_home, start_api
from training.fitting.scoring import score_dates

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
SPONSOR_LINK = re.compile(r'<td><a href="/sponsors/([0-9]{8})">')


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "page has no CSRF field"
    return match.group(1)


def listed_ids(html: str) -> list[str]:
    """Sponsor ids of the ranking table rows, in page order."""
    return SPONSOR_LINK.findall(html)


def sign_in(client: TestClient, api_key: str, next_url: str = "/sponsors") -> TestClient:
    form = client.get("/sign-in")
    response = client.post("/sign-in", data={"api_key": api_key, "csrf": csrf_of(form.text),
                                             "next": next_url}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return client


def key_of(api: Api, role: str) -> str:
    return api.headers[role]["X-API-Key"]


@dataclass
class Web:
    """The service with an analyst signed in on ``client``."""

    api: Api
    client: TestClient

    @property
    def settings(self):  # noqa: ANN201 - Settings
        return self.api.settings

    def fresh_client(self) -> TestClient:
        """Another browser: same app, no cookies."""
        return TestClient(self.api.client.app)

    def latest_scores(self) -> pl.DataFrame:
        day = score_dates(self.settings.scores_dir)[-1]
        return (pl.read_parquet(self.settings.scores_dir / f"as_of={day}" / "scores.parquet")
                .sort("rank"))

    def csrf(self) -> str:
        return csrf_of(self.client.get("/model").text)


@pytest.fixture(scope="module")
def web(scored_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    for api in start_api(copy_home(scored_home, tmp_path_factory.mktemp("web") / "home")):
        client = TestClient(api.client.app)
        sign_in(client, key_of(api, "analyst"))
        yield Web(api, client)
