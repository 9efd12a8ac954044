"""Issue 17 item 2 against a real model: every route and page that reveals a score writes
an audit row; the records endpoint keeps its inputs' hash and the scores it returned; key
issue and revoke name the actor; analysts see no other key ids; the trail verifies."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from serving.db import AuditEntry
from tests.serving.conftest import Api
from tests.serving.test_api import latest_scores, records_of
from tests.serving.web.conftest import csrf_of, sign_in


def rows(api: Api, endpoint: str) -> list[AuditEntry]:
    api.flush_audit()
    with Session(api.client.app.state.engine) as session:  # type: ignore[attr-defined]
        return list(session.scalars(select(AuditEntry).where(AuditEntry.endpoint == endpoint)
                                    .order_by(AuditEntry.seq)))


def key_id_of(api: Api, role: str) -> str:
    return api.headers[role]["X-API-Key"].split("_")[1]


def new_review(api: Api, rank: int = 0) -> dict[str, Any]:
    sponsor = latest_scores(api)["sponsor_id"][rank]
    created = api.client.post(f"/v1/sponsors/{sponsor}/reviews", headers=api.headers["analyst"],
                              json={"decision": "inspect", "decided_on": "2026-01-05"})
    assert created.status_code == 201, created.text
    return created.json()


def test_review_routes_that_show_scores_are_audited(api: Api) -> None:
    review = new_review(api)
    headers = api.headers["analyst"]
    listed = api.client.get(f"/v1/sponsors/{review['sponsor_id']}/reviews", headers=headers)
    one = api.client.get(f"/v1/reviews/{review['review_id']}", headers=headers)
    assert listed.status_code == one.status_code == 200
    first = api.client.post(f"/v1/reviews/{review['review_id']}/outcome", headers=headers,
                            json={"outcome": "NO_VIOLATION", "closed_on": "2026-02-01"})
    corrected = api.client.post(f"/v1/reviews/{review['review_id']}/outcome", headers=headers,
                                json={"outcome": "VIOLATION", "closed_on": "2026-02-01",
                                      "findings": ["UNDERPAYMENT"]})
    assert first.status_code == corrected.status_code == 200
    analyst = key_id_of(api, "analyst")
    for endpoint in ("GET /v1/sponsors/{id}/reviews", "GET /v1/reviews/{id}",
                     "POST /v1/reviews/{id}/outcome"):
        logged = [r for r in rows(api, endpoint)
                  if review["review_id"] in json.loads(r.detail or "{}").get("review_ids", [])]
        assert logged, endpoint
        assert all(r.key_id == analyst and json.loads(r.sponsor_ids) == [review["sponsor_id"]]
                   for r in logged)
    correction = json.loads(rows(api, "POST /v1/reviews/{id}/outcome")[-1].detail or "{}")
    assert correction["replaced"]["outcome"] == "NO_VIOLATION"  # the old value is kept
    assert correction["outcome"]["outcome"] == "VIOLATION"


def test_the_web_outcome_form_is_audited(api: Api) -> None:
    review = new_review(api, rank=1)
    browser = sign_in(TestClient(api.client.app), api.headers["analyst"]["X-API-Key"])
    page = browser.get(f"/sponsors/{review['sponsor_id']}")
    saved = browser.post(f"/reviews/{review['review_id']}/outcome", follow_redirects=False,
                         data={"csrf": csrf_of(page.text), "outcome": "VIOLATION",
                               "closed_on": "2026-03-01", "findings": "UNDERPAYMENT"})
    assert saved.status_code == 303, saved.text
    refused = browser.post(f"/reviews/{review['review_id']}/outcome",
                           data={"csrf": csrf_of(page.text), "outcome": "VIOLATION"})
    assert refused.status_code == 422  # the sponsor's page again, with the errors
    logged = rows(api, "POST /reviews/{id}/outcome")
    assert len(logged) >= 2
    assert all(json.loads(r.sponsor_ids) == [review["sponsor_id"]] for r in logged[-2:])


def test_records_keep_the_inputs_hash_and_the_scores_returned(api: Api) -> None:
    sponsor = latest_scores(api)["sponsor_id"][2]
    body = {"tables": records_of(api, [sponsor])}
    response = api.client.post("/v1/scores/records", headers=api.headers["case-system"],
                               json=body)
    assert response.status_code == 200, response.text
    [result] = response.json()["results"]
    detail = json.loads(rows(api, "POST /v1/scores/records")[-1].detail or "{}")
    assert detail["scores"][sponsor]["score"] == result["score"]
    assert detail["scores"][sponsor]["band"] == result["band"]
    # The hash of the bytes sent: anyone holding the request can check it.
    assert detail["inputs_sha256"] == hashlib.sha256(response.request.content).hexdigest()
    # The same records give the same hash (and, with the same model, the same score).
    again = api.client.post("/v1/scores/records", headers=api.headers["case-system"], json=body)
    repeat = json.loads(rows(api, "POST /v1/scores/records")[-1].detail or "{}")
    assert repeat["inputs_sha256"] == detail["inputs_sha256"]
    assert again.json()["results"][0]["score"] == result["score"]
    assert detail["inputs_sha256"] != hashlib.sha256(b"").hexdigest()


def test_key_issue_and_revoke_record_the_actor(api: Api) -> None:
    admin = api.headers["admin"]
    created = api.client.post("/v1/admin/keys", headers=admin,
                              json={"role": "analyst", "label": "temp"}).json()
    assert api.client.delete(f"/v1/admin/keys/{created['key_id']}",
                             headers=admin).status_code == 200
    for endpoint in ("POST /v1/admin/keys", "DELETE /v1/admin/keys/{id}"):
        [row] = [r for r in rows(api, endpoint)
                 if json.loads(r.detail or "{}").get("key_id") == created["key_id"]]
        assert row.key_id == key_id_of(api, "admin") and row.role == "admin"


def test_analysts_do_not_see_other_key_ids(api: Api) -> None:
    review = new_review(api, rank=3)  # by the analyst key
    other = api.client.post("/v1/admin/keys", headers=api.headers["admin"],
                            json={"role": "analyst", "label": "colleague"}).json()
    colleague = {"X-API-Key": other["api_key"]}
    url = f"/v1/reviews/{review['review_id']}"
    seen_by_colleague = api.client.get(url, headers=colleague).json()["key_id"]
    author = key_id_of(api, "analyst")
    assert seen_by_colleague != author and seen_by_colleague.startswith("~")
    assert api.client.get(url, headers=api.headers["analyst"]).json()["key_id"] == author
    assert api.client.get(url, headers=api.headers["admin"]).json()["key_id"] == author
    sponsor_page = api.client.get(f"/v1/sponsors/{review['sponsor_id']}", headers=colleague)
    assert author not in [r["key_id"] for r in sponsor_page.json()["reviews"]]


def test_the_trail_of_all_this_verifies(api: Api) -> None:
    from serving.audit_chain import verify_chain

    api.flush_audit()
    report = verify_chain(api.client.app.state.engine)  # type: ignore[attr-defined]
    assert report.ok, report.problems
    assert report.rows > 10
