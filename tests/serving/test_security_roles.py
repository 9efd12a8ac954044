"""Broken object-level and function-level authorisation: every route of the app, under every
role, against a declared policy.

The routes come from the app itself, so a route added without a line in the policy below
fails :func:`test_every_route_has_a_declared_policy`: declare who may call it (admin may
call everything). Then every API route is called with no key and with each role's key: a
role outside the policy must get 401/403 (before any side effect: the dependency refuses
before the body is read), a role inside it must not. Pages take no API key; they need a
session of a page role, and a case system cannot get one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from starlette.routing import Mount

from serving.keys import Role
from tests.serving.conftest import Api, copy_home, start_api

ROLES = [role.value for role in Role]
CS, AN = Role.CASE_SYSTEM.value, Role.ANALYST.value
LD = getattr(Role, "LEAD", Role.ADMIN).value  # the lead role (issue 18)
ANY = frozenset(ROLES)
ADMIN_ONLY: frozenset[str] = frozenset()

#: Who may call each API route besides admin. Declared here, not read from the code, so
#: that a check removed or loosened in the code fails this test.
API_POLICY: dict[tuple[str, str], frozenset[str]] = {
    ("POST", "/v1/scores"): frozenset({CS}),
    ("POST", "/v1/scores/records"): frozenset({CS}),
    ("GET", "/v1/sponsors"): frozenset({AN, LD}),
    ("GET", "/v1/sponsors/{sponsor_id}"): frozenset({AN, LD}),
    ("POST", "/v1/sponsors/{sponsor_id}/reviews"): frozenset({AN, LD}),
    ("GET", "/v1/sponsors/{sponsor_id}/reviews"): frozenset({AN, LD}),
    ("GET", "/v1/reviews/{review_id}"): frozenset({AN, LD}),
    ("POST", "/v1/reviews/{review_id}/outcome"): frozenset({AN, LD}),
    ("GET", "/v1/model"): ANY,
    ("GET", "/v1/model/card"): ANY,
    ("POST", "/v1/admin/reload"): ADMIN_ONLY,
    ("POST", "/v1/admin/keys"): ADMIN_ONLY,
    ("GET", "/v1/admin/keys"): ADMIN_ONLY,
    ("DELETE", "/v1/admin/keys/{key_id}"): ADMIN_ONLY,
    # Cases (issue 18): case systems open and follow cases; analysts and leads work them;
    # only a lead assigns and approves (four-eyes); migration is for admins.
    ("GET", "/v1/cases"): frozenset({AN, LD, CS}),
    ("POST", "/v1/cases"): frozenset({AN, LD, CS}),
    ("GET", "/v1/cases/{case_id}"): frozenset({AN, LD, CS}),
    ("GET", "/v1/cases/{case_id}/events"): frozenset({AN, LD, CS}),
    ("POST", "/v1/cases/{case_id}/notes"): frozenset({AN, LD, CS}),
    ("POST", "/v1/cases/{case_id}/status"): frozenset({AN, LD, CS}),
    ("POST", "/v1/cases/{case_id}/outcome"): frozenset({AN, LD, CS}),
    ("POST", "/v1/cases/{case_id}/claim"): frozenset({AN, LD}),
    ("POST", "/v1/cases/{case_id}/release"): frozenset({AN, LD}),
    ("POST", "/v1/cases/{case_id}/assign"): frozenset({LD}),
    ("POST", "/v1/cases/bulk-assign"): frozenset({LD}),
    ("POST", "/v1/cases/{case_id}/approve"): frozenset({LD}),
    ("POST", "/v1/cases/{case_id}/reject"): frozenset({LD}),
    ("POST", "/v1/cases/migrate"): ADMIN_ONLY,
}

#: Routes anyone may call: health, metrics (no sponsor in them), the API's own document,
#: signing in and out, the language switch.
PUBLIC = {
    ("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics"), ("GET", "/openapi.json"),
    ("GET", "/docs"), ("GET", "/docs/oauth2-redirect"), ("GET", "/redoc"),
    ("GET", "/"), ("GET", "/sign-in"), ("POST", "/sign-in"), ("POST", "/sign-out"),
    ("POST", "/language"), ("GET", "/auth/oidc/login"), ("GET", "/auth/oidc/callback"),
}
PUBLIC_MOUNTS = {"/static", "/docs-assets"}

#: Who may sign in to the pages (with a key, or through the identity provider): analysts,
#: leads (issue 18) and admins; never a case system.
PAGE_SIGN_IN = frozenset({AN, LD, Role.ADMIN.value})
#: Pages: every one needs a signed-in session of a page role.
PAGES = {
    ("GET", "/sponsors"), ("GET", "/sponsors/export.csv"), ("GET", "/sponsors/export.xlsx"),
    ("GET", "/sponsors/{sponsor_id}"), ("POST", "/sponsors/{sponsor_id}/reviews"),
    ("POST", "/reviews/{review_id}/outcome"), ("GET", "/model"), ("GET", "/model/card"),
    ("GET", "/model/health"), ("GET", "/cases"), ("GET", "/cases/plan"), ("POST", "/cases"),
    ("GET", "/cases/{case_id}"), ("POST", "/cases/{case_id}/{action}"),
}


def app_routes(app: Any) -> tuple[set[tuple[str, str]], set[str]]:
    """Every (method, path) the app answers, and its mounts."""
    routes: set[tuple[str, str]] = set()
    mounts: set[str] = set()
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, Mount):
            mounts.add(context.path)
            continue
        for method in getattr(route, "methods", None) or ():
            if method != "HEAD":
                routes.add((method, context.path))
    return routes, mounts


@pytest.fixture(scope="module")
def api(scored_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    yield from start_api(copy_home(scored_home, tmp_path_factory.mktemp("roles") / "home"))


@pytest.fixture(scope="module")
def sponsor_id(api: Api) -> str:
    answer = api.client.get("/v1/sponsors", params={"page_size": 1},
                            headers=api.headers["admin"])
    assert answer.status_code == 200, answer.text
    return answer.json()["items"][0]["sponsor_id"]


def concrete(path: str, sponsor_id: str) -> str:
    """A path with its parameters filled: a real sponsor, made-up everything else (an
    allowed role then gets 404 or 422; a refused one must get 401/403 all the same)."""
    values = {"sponsor_id": sponsor_id, "key_id": "00000000", "review_id": "no-such-review",
              "case_id": "999999", "action": "claim"}
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), "x"), path)


def test_every_route_has_a_declared_policy(api: Api) -> None:
    routes, mounts = app_routes(api.client.app)
    declared = set(API_POLICY) | PUBLIC | PAGES
    undeclared = sorted(routes - declared)
    assert not undeclared, (
        f"routes without a declared access policy in {__file__}: {undeclared}; say which "
        "roles may call each (API_POLICY), or that it is a page (PAGES) or public (PUBLIC)")
    assert not mounts - PUBLIC_MOUNTS, f"undeclared mounts: {sorted(mounts - PUBLIC_MOUNTS)}"
    stale = sorted(declared - routes)
    assert not stale, f"policy lines for routes the app no longer has: {stale}"


@pytest.mark.parametrize(("method", "path"), sorted(API_POLICY))
def test_api_route_refuses_every_role_outside_its_policy(api: Api, sponsor_id: str,
                                                         method: str, path: str) -> None:
    allowed = API_POLICY[(method, path)] | {Role.ADMIN.value}
    url = concrete(path, sponsor_id)
    body = {} if method in ("POST", "PUT", "PATCH") else None
    answer = api.client.request(method, url, json=body)
    assert answer.status_code == 401, f"{method} {url} without a key: {answer.status_code}"
    wrong = []
    # Refused roles first, so an allowed call (a reload, a migration) changes nothing first.
    for role in sorted(ROLES, key=lambda r: r in allowed):
        answer = api.client.request(method, url, json=body, headers=api.headers[role])
        refused = answer.status_code in (401, 403)
        if role in allowed and (refused or answer.status_code >= 500):
            wrong.append(f"{role} (allowed) got {answer.status_code}: {answer.text[:200]}")
        if role not in allowed and answer.status_code != 403:
            wrong.append(f"{role} (not allowed) got {answer.status_code}: {answer.text[:200]}")
    assert not wrong, f"{method} {url}:\n" + "\n".join(wrong)


def test_public_routes_need_no_key(api: Api) -> None:
    for method, path in sorted(PUBLIC):
        if (method, path) == ("POST", "/sign-in") or path.startswith("/auth/oidc"):
            continue  # answered on their own terms (a form, the identity provider)
        answer = api.client.request(method, path, follow_redirects=False)
        assert answer.status_code not in (401, 403) and answer.status_code < 500, (
            method, path, answer.status_code)


def _page_client(api: Api, role: str | None) -> TestClient:
    """A browser of its own (cookies apart from the module's client), signed in with
    ``role``'s key when given."""
    client = TestClient(api.client.app, follow_redirects=False)
    if role is not None:
        form = client.get("/sign-in?method=key")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
        answer = client.post("/sign-in", data={"csrf": csrf, "next": "/sponsors",
                                               "api_key": api.headers[role]["X-API-Key"]})
        client.sign_in_status = answer.status_code  # type: ignore[attr-defined]
    return client


def _csrf(client: TestClient) -> str:
    page = client.get("/model")
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


def test_only_page_roles_can_sign_in_to_the_pages(api: Api) -> None:
    for role in ROLES:
        status = _page_client(api, role).sign_in_status  # type: ignore[attr-defined]
        expected = 303 if role in PAGE_SIGN_IN else 403
        assert status == expected, f"{role} signing in to the pages: {status}"


@pytest.mark.parametrize(("method", "path"), sorted(PAGES))
def test_page_needs_a_page_session(api: Api, sponsor_id: str, method: str, path: str) -> None:
    url = concrete(path, sponsor_id)
    data = {"csrf": "x"} if method == "POST" else None
    # No session: to the sign-in page, even with an admin's API key in the header.
    for headers in ({}, api.headers[Role.ADMIN.value]):
        answer = _page_client(api, None).request(method, url, data=data, headers=headers)
        assert answer.status_code == 303 and answer.headers["location"].startswith(
            "/sign-in"), f"{method} {url} without a session: {answer.status_code}"
    client = _page_client(api, AN)
    data = {"csrf": _csrf(client)} if method == "POST" else None
    answer = client.request(method, url, data=data)
    assert answer.status_code not in (401, 403) and answer.status_code < 500, (
        f"{method} {url} as analyst: {answer.status_code}")
    assert not answer.headers.get("location", "").startswith("/sign-in")


def test_a_page_session_is_no_api_key(api: Api) -> None:
    """The session cookie signs in to pages only: the API still asks for a key."""
    client = _page_client(api, Role.ADMIN.value)
    for path in ("/v1/sponsors", "/v1/admin/keys", "/v1/model"):
        assert client.get(path).status_code == 401, path
