"""Mass assignment: a request cannot set what the service decides (who acted, the score it
saw, ids, roles, outcomes' authors). Extra fields in a JSON body are refused with 422 naming
them, and nothing is stored; extra fields in a page's form are ignored, and what is stored
comes from the session and the snapshot, not from the form.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from serving.db import ApiKey, Review
from tests.serving.conftest import Api, copy_home, start_api

#: What a caller might try to set: identities, roles, scores, ids, authorship, state.
HOSTILE = {"key_id": "attacker", "role": "admin", "score": 0.0, "review_id": "chosen-id",
           "model_version": "forged", "created_at": "2020-01-01T00:00:00",
           "outcome_key_id": "attacker", "api_key": "sw_deadbeef_forged",
           "key_hash": "0" * 64, "case_id": "chosen", "assignee": "attacker",
           "approved_by": "attacker", "status": "closed"}


@pytest.fixture(scope="module")
def api(scored_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    yield from start_api(copy_home(scored_home, tmp_path_factory.mktemp("mass") / "home"))


@pytest.fixture(scope="module")
def sponsor(api: Api) -> dict[str, Any]:
    answer = api.client.get("/v1/sponsors", params={"page_size": 1},
                            headers=api.headers["admin"])
    return answer.json()["items"][0]


def _count(api: Api, model: Any) -> int:
    with Session(api.client.app.state.engine) as session:  # type: ignore[attr-defined]
        return session.scalar(select(func.count()).select_from(model))


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document["components"]["schemas"][name]
    return schema


def test_every_json_body_forbids_unknown_fields(api: Api) -> None:
    """A request model added without ``extra="forbid"`` fails here."""
    document = api.client.get("/openapi.json").json()
    bodies, open_bodies = 0, []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" not in content:
                continue
            bodies += 1
            schema = _resolve(document, content["application/json"]["schema"])
            if schema.get("additionalProperties") is not False:
                open_bodies.append(f"{method.upper()} {path}")
    assert bodies >= 5
    assert not open_bodies, f"bodies that accept unknown fields: {open_bodies}"


def _refused(answer: Any, fields: set[str]) -> None:
    assert answer.status_code == 422, answer.text
    named = {str(problem["loc"][-1]) for problem in answer.json()["detail"]}
    assert fields <= named, f"not named in the 422: {fields - named}"


def test_key_creation_takes_no_id_hash_or_key(api: Api) -> None:
    before = _count(api, ApiKey)
    extra = {k: HOSTILE[k] for k in ("key_id", "api_key", "key_hash", "created_at")}
    answer = api.client.post("/v1/admin/keys", json={"role": "analyst", **extra},
                             headers=api.headers["admin"])
    _refused(answer, set(extra))
    assert _count(api, ApiKey) == before
    with Session(api.client.app.state.engine) as session:  # type: ignore[attr-defined]
        assert session.get(ApiKey, "attacker") is None


@pytest.mark.parametrize("field", ["key_id", "score", "review_id", "model_version", "role",
                                   "created_at", "outcome_key_id"])
def test_review_takes_no_server_decided_field(api: Api, sponsor: dict[str, Any],
                                              field: str) -> None:
    before = _count(api, Review)
    answer = api.client.post(f"/v1/sponsors/{sponsor['sponsor_id']}/reviews",
                             json={"decision": "inspect", field: HOSTILE[field]},
                             headers=api.headers["analyst"])
    _refused(answer, {field})
    assert _count(api, Review) == before


def test_outcome_takes_no_author_or_id(api: Api, sponsor: dict[str, Any]) -> None:
    made = api.client.post(f"/v1/sponsors/{sponsor['sponsor_id']}/reviews",
                           json={"decision": "inspect"}, headers=api.headers["analyst"])
    assert made.status_code == 201, made.text
    review_id = made.json()["review_id"]
    extra = {k: HOSTILE[k] for k in ("outcome_key_id", "key_id", "review_id", "score")}
    answer = api.client.post(f"/v1/reviews/{review_id}/outcome",
                             json={"outcome": "OPEN", **extra}, headers=api.headers["analyst"])
    _refused(answer, set(extra))
    stored = api.client.get(f"/v1/reviews/{review_id}", headers=api.headers["analyst"]).json()
    assert stored["outcome"] is None and stored["score"] == made.json()["score"]


def test_scores_request_takes_no_role(api: Api, sponsor: dict[str, Any]) -> None:
    answer = api.client.post("/v1/scores", json={"sponsor_ids": [sponsor["sponsor_id"]],
                                                 "role": "admin", "key_id": "attacker"},
                             headers=api.headers["case-system"])
    _refused(answer, {"role", "key_id"})


def test_case_opening_takes_no_state_or_assignee(api: Api, sponsor: dict[str, Any]) -> None:
    extra = {k: HOSTILE[k] for k in ("case_id", "assignee", "status", "approved_by", "key_id")}
    answer = api.client.post("/v1/cases", json={"sponsor_id": sponsor["sponsor_id"], **extra},
                             headers=api.headers["analyst"])
    _refused(answer, set(extra))


def _analyst_page_client(api: Api) -> tuple[TestClient, str]:
    client = TestClient(api.client.app, follow_redirects=False)
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/sign-in?method=key").text)
    api_key = api.headers["analyst"]["X-API-Key"]
    answer = client.post("/sign-in", data={"csrf": csrf.group(1), "api_key": api_key,
                                           "next": "/sponsors"})
    assert answer.status_code == 303, answer.text
    page = client.get("/model")
    return client, re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


def test_page_forms_store_the_session_and_snapshot_not_the_form(
        api: Api, sponsor: dict[str, Any]) -> None:
    client, csrf = _analyst_page_client(api)
    analyst_key_id = api.headers["analyst"]["X-API-Key"].split("_")[1]
    sponsor_id = sponsor["sponsor_id"]
    answer = client.post(f"/sponsors/{sponsor_id}/reviews",
                         data={"csrf": csrf, "decision": "inspect", "note": "mass", **{
                             k: str(v) for k, v in HOSTILE.items()}})
    assert answer.status_code == 303, answer.text
    with Session(api.client.app.state.engine) as session:  # type: ignore[attr-defined]
        review = session.scalars(select(Review).where(Review.note == "mass")).one()
        assert session.get(Review, "chosen-id") is None
        assert review.key_id == analyst_key_id
        assert review.score == pytest.approx(sponsor["score"])
        assert review.model_version != "forged"
        review_id = review.review_id
    answer = client.post(f"/reviews/{review_id}/outcome",
                         data={"csrf": csrf, "outcome": "OPEN", **{
                             k: str(v) for k, v in HOSTILE.items()}})
    assert answer.status_code == 303, answer.text
    with Session(api.client.app.state.engine) as session:  # type: ignore[attr-defined]
        review = session.get(Review, review_id)
        assert review.outcome == "OPEN" and review.outcome_key_id == analyst_key_id
        assert review.key_id == analyst_key_id
