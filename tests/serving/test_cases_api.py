"""``/v1/cases`` on the scored home (issue 18): the role of every route, the audit row of
every case access, four-eyes over HTTP, a plan's RANDOM pick, and the case pages."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from serving.db import AuditEntry
from serving.keys import Role
from serving.routes.cases import ROUTE_ROLES
from tests.serving.conftest import Api, copy_home, start_api

BODIES = {
    "open": {"sponsor_id": "{sponsor}", "source": "ranking"},
    "note": {"note": "a note"}, "assign": {"assignee": "someone"},
    "bulk_assign": {"case_ids": ["{case}"], "assignee": "someone"},
    "status": {"status": "in_review"}, "outcome": {"outcome": "NO_VIOLATION"},
    "approve": {"note": ""}, "reject": {"note": ""},
}


@pytest.fixture(scope="module")
def cases_api(scored_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    yield from start_api(copy_home(scored_home, tmp_path_factory.mktemp("cases") / "home"))


def key_id(api: Api, role: str) -> str:
    return api.headers[role]["X-API-Key"].split("_")[1]


def ranked(api: Api, n: int) -> list[str]:
    return api.client.app.state.serving.snapshot.frame.sort("rank")[  # type: ignore[attr-defined]
        "sponsor_id"].to_list()[-n:]


def route_name(endpoint: str) -> str:
    return {"list_cases": "list", "create_case": "open", "get_case": "get",
            "case_events": "events", "add_note": "note", "change_status": "status",
            "record_outcome": "outcome"}.get(endpoint, endpoint)


def test_every_route_checks_its_roles(cases_api: Api) -> None:
    from serving.routes.cases import router

    sponsors = iter(ranked(cases_api, 40))
    client = cases_api.client
    case_id = client.post("/v1/cases", json={"sponsor_id": next(sponsors)},
                          headers=cases_api.headers["lead"]).json()["case_id"]
    seen = set()
    for route in router.routes:
        name = route_name(route.endpoint.__name__)
        seen.add(name)
        method = next(iter(route.methods))
        path = route.path.replace("{case_id}", case_id)
        for role in Role:
            text = json.dumps(BODIES.get(name, {})).replace("{case}", case_id)
            body = json.loads(text.replace("{sponsor}", next(sponsors)) if name == "open"
                              else text)
            answer = client.request(method, path, headers=cases_api.headers[role.value],
                                    json=body if method == "POST" else None)
            refused = answer.status_code == 403 and "may not do this" in answer.text
            allowed = role is Role.ADMIN or role in ROUTE_ROLES[name]
            assert refused is not allowed, (method, route.path, role, answer.text)
        assert client.request(method, path).status_code == 401
    assert seen == set(ROUTE_ROLES)


def test_case_access_is_audited_and_self_approval_refused(cases_api: Api) -> None:
    client, h = cases_api.client, cases_api.headers
    sponsor = ranked(cases_api, 60)[0]
    case = client.post("/v1/cases", json={"sponsor_id": sponsor, "source": "sponsor"},
                       headers=h["lead"]).json()
    cid = case["case_id"]
    for step, who, body in (("claim", "lead", None),
                            ("status", "lead", {"status": "inspection_requested"}),
                            ("status", "case-system", {"status": "inspecting"}),
                            ("outcome", "lead", {"outcome": "VIOLATION",
                                                 "findings": ["UNDERPAYMENT"]})):
        answer = client.post(f"/v1/cases/{cid}/{step}", json=body, headers=h[who])
        assert answer.status_code == 200, answer.text
    assert answer.json()["pending"]["by"] == key_id(cases_api, "lead")
    own = client.post(f"/v1/cases/{cid}/approve", json={}, headers=h["lead"])
    assert own.status_code == 403 and "nobody approves their own" in own.text
    approved = client.post(f"/v1/cases/{cid}/approve", json={}, headers=h["admin"])
    assert approved.status_code == 200 and approved.json()["outcome"] == "VIOLATION"
    events = client.get(f"/v1/cases/{cid}/events", headers=h["case-system"]).json()
    assert [e["kind"] for e in events][-2:] == ["approved", "outcome"]
    cases_api.flush_audit()
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        rows = session.scalars(select(AuditEntry).where(
            AuditEntry.endpoint.like("% /v1/cases%"))).all()
    mine = [r for r in rows if sponsor in json.loads(r.sponsor_ids)]
    assert {r.endpoint for r in mine} >= {
        "POST /v1/cases", "POST /v1/cases/{id}/claim", "POST /v1/cases/{id}/status",
        "POST /v1/cases/{id}/outcome", "POST /v1/cases/{id}/approve",
        "GET /v1/cases/{id}/events"}
    assert {(r.key_id, r.endpoint) for r in mine if "approve" in r.endpoint} == {
        (key_id(cases_api, "lead"), "POST /v1/cases/{id}/approve refused 403"),
        (key_id(cases_api, "admin"), "POST /v1/cases/{id}/approve")}


def test_a_plans_random_pick_opens_as_random(cases_api: Api) -> None:
    home = cases_api.settings.home
    sponsor = ranked(cases_api, 100)[0]
    folder = home / "plans" / "as_of=2026-01-01"
    folder.mkdir(parents=True)
    pl.DataFrame({"sponsor_id": [sponsor], "plan_position": [1], "plan_id": ["PLAN-X"],
                  "selection": ["RANDOM"], "inclusion_probability": [0.04]}
                 ).write_parquet(folder / "plan.parquet")
    h = cases_api.headers
    made = cases_api.client.post("/v1/cases", json={
        "sponsor_id": sponsor, "source": "plan", "plan_id": "PLAN-X"}, headers=h["lead"])
    assert made.status_code == 201, made.text
    assert (made.json()["selection"], made.json()["inclusion_probability"]) == ("RANDOM", 0.04)
    claimed = cases_api.client.post("/v1/cases", json={
        "sponsor_id": ranked(cases_api, 101)[0], "selection": "RANDOM"}, headers=h["lead"])
    assert claimed.status_code == 422  # RANDOM is the plan's word, not a caller's
    page = cases_api.client.get("/v1/cases?view=unassigned", headers=h["analyst"]).json()
    assert sponsor in [c["sponsor_id"] for c in page["cases"]]


def test_queue_page_in_both_languages(cases_api: Api) -> None:
    client = cases_api.client
    # A case of its own, so the test does not depend on which tests ran before it.
    sponsor = ranked(cases_api, 300)[0]
    opened = client.post("/v1/cases", json={"sponsor_id": sponsor},
                         headers=cases_api.headers["lead"])
    assert opened.status_code in (201, 409), opened.text  # 409: already open from another test
    key = cases_api.headers["admin"]["X-API-Key"]
    page = client.get("/sign-in")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    form = {"api_key": key, "next": "/cases?view=open"}
    if token:
        form["csrf"] = token[1]
    signed = client.post("/sign-in", data=form)
    assert signed.status_code == 200, signed.text[:300]
    queue = client.get("/cases?view=open")
    assert queue.status_code == 200 and "Server-Timing" in queue.headers
    assert "<h1>Cases</h1>" in queue.text
    title = re.search(r"<title>(.*?)</title>", queue.text, re.S)
    assert title and "<" not in title[1], "the page title holds markup"
    case_link = re.search(r'href="/cases/([0-9a-f-]{36})"', queue.text)
    assert case_link
    csrf = re.search(r'name="csrf" value="([^"]+)"', queue.text)[1]
    client.post("/language", data={"lang": "nl", "next": "/cases", "csrf": csrf})
    dutch = client.get(f"/cases/{case_link[1]}")
    assert dutch.status_code == 200 and "Gebeurtenissen" in dutch.text
    client.post("/language", data={"lang": "en", "next": "/cases", "csrf": csrf})


def test_page_actions_check_roles_too(cases_api: Api) -> None:
    from fastapi.testclient import TestClient

    h = cases_api.headers
    sponsor = ranked(cases_api, 150)[0]
    cid = cases_api.client.post("/v1/cases", json={"sponsor_id": sponsor},
                                headers=h["lead"]).json()["case_id"]
    with TestClient(cases_api.client.app) as browser:
        token = re.search(r'name="csrf" value="([^"]+)"', browser.get("/sign-in").text)
        browser.post("/sign-in", data={"api_key": h["analyst"]["X-API-Key"], "next": "/cases",
                                       **({"csrf": token[1]} if token else {})})
        page = browser.get(f"/cases/{cid}")
        assert page.status_code == 200 and 'action="/cases/' + cid + '/assign"' not in page.text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)[1]
        refused = browser.post(f"/cases/{cid}/assign", data={"csrf": csrf, "assignee": "x"})
        assert refused.status_code == 403
        refused = browser.post(f"/cases/{cid}/approve", data={"csrf": csrf})
        assert refused.status_code == 403
        forged = browser.post(f"/cases/{cid}/claim", data={"csrf": "forged"})
        assert forged.status_code == 403
        claimed = browser.post(f"/cases/{cid}/claim", data={"csrf": csrf})
        assert claimed.status_code == 200 and "In review" in claimed.text


@pytest.mark.parametrize("start", ["ranking", "sponsor"])
def test_a_case_opens_from_the_ranking_and_the_sponsor_page(cases_api: Api, start: str) -> None:
    from fastapi.testclient import TestClient

    h = cases_api.headers
    sponsor = ranked(cases_api, 200)[0 if start == "ranking" else 1]
    with TestClient(cases_api.client.app) as browser:
        token = re.search(r'name="csrf" value="([^"]+)"', browser.get("/sign-in").text)
        browser.post("/sign-in", data={"api_key": h["analyst"]["X-API-Key"], "next": "/sponsors",
                                       **({"csrf": token[1]} if token else {})})
        page = browser.get("/sponsors?sort=rank&order=desc&page_size=500" if start == "ranking"
                           else f"/sponsors/{sponsor}")
        form = re.search(r'<form method="post" action="/cases" class="open-case">\s*'
                         r'<input type="hidden" name="csrf" value="([^"]+)">\s*'
                         rf'<input type="hidden" name="sponsor_id" value="{sponsor}">\s*'
                         r'<input type="hidden" name="source" value="(\w+)">', page.text)
        assert form, f"no Open case form for {sponsor} on the {start} page"
        assert form[2] == start
        opened = browser.post("/cases", data={"csrf": form[1], "sponsor_id": sponsor,
                                              "source": form[2]})
        assert opened.status_code == 200, opened.text[:300]
    [case] = [c for c in cases_api.client.get("/v1/cases?view=open",
                                              headers=h["lead"]).json()["cases"]
              if c["sponsor_id"] == sponsor]
    assert case["source"] == start and case["selection"] == "RISK_BASED"
