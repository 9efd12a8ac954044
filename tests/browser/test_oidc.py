"""Analysts sign in through a real OpenID Connect provider, end to end in Chromium.

The provider is panva's oidc-provider (OpenID Certified), run by ``tests/oidc/provider.mjs``
with its own login and consent pages, PKCE required, and test users whose ``roles`` claim
the service maps to its roles. It listens at ``localhost`` while the service listens at
``127.0.0.1``: two sites, as in production, so the SameSite=Strict session cookie is really
withheld on the way back from the provider.

Without Node.js or the provider's packages (``npm ci --prefix tests/oidc``, done by
``scripts/install.sh --with-browser``) these tests FAIL: a check that cannot measure does
not pass. ``SPONSORWATCH_SKIP_OIDC=1`` skips them explicitly.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from serving.web.oidc import actor_id
from sponsorwatch.settings import Settings
from tests.browser.conftest import LiveServer, _free_port, start_uvicorn
from tests.serving.conftest import copy_home

OIDC_DIR = Path(__file__).parents[1] / "oidc"
CLIENT_ID = "sponsorwatch"
CLIENT_SECRET = "test-only-client-secret"


def _cannot_measure(message: str) -> None:
    if os.environ.get("SPONSORWATCH_SKIP_OIDC") == "1":
        pytest.skip(f"SPONSORWATCH_SKIP_OIDC=1: {message}")
    pytest.fail(f"{message} (set SPONSORWATCH_SKIP_OIDC=1 to skip these tests explicitly)")


class Provider:
    def __init__(self, port: int, redirect_uri: str) -> None:
        self.port = port
        self.service_port = 0
        self.issuer = f"http://localhost:{port}"
        node = shutil.which("node")
        if node is None:
            _cannot_measure("node is missing: the OpenID Connect provider cannot start")
        if not (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
            _cannot_measure("tests/oidc/node_modules is missing: run `npm ci --prefix "
                            "tests/oidc` (scripts/install.sh --with-browser does)")
        env = {**os.environ, "OIDC_PORT": str(port), "OIDC_ISSUER": self.issuer,
               "OIDC_REDIRECT_URI": redirect_uri, "OIDC_CLIENT_ID": CLIENT_ID,
               "OIDC_CLIENT_SECRET": CLIENT_SECRET}
        self.process = subprocess.Popen([str(node), str(OIDC_DIR / "provider.mjs")], env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True)
        self.output: list[str] = []
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, args=(lines,), daemon=True).start()
        deadline = time.monotonic() + 30
        while True:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                line = ""
            if line.startswith("listening"):
                return
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                _cannot_measure("the OpenID Connect provider did not start:\n"
                                + "".join(self.output)[-2000:])

    def _read(self, lines: queue.Queue[str]) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            lines.put(line)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    """The provider on a free port, its test client redirecting to the service's port
    (started first: without node, fail before building a world)."""
    service_port = _free_port()
    provider = Provider(_free_port(), f"http://127.0.0.1:{service_port}/auth/oidc/callback")
    provider.service_port = service_port
    try:
        yield provider
    finally:
        provider.stop()


@pytest.fixture(scope="module")
def oidc_setup(provider: Provider, scored_home: Path, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[tuple[LiveServer, Provider]]:
    """The service configured against the provider."""

    from serving.app import create_app

    service_port = provider.service_port
    base = f"http://127.0.0.1:{service_port}"
    settings = Settings(home=copy_home(scored_home, tmp_path_factory.mktemp("oidc") / "home"),
                        oidc_issuer=provider.issuer, oidc_client_id=CLIENT_ID,
                        oidc_client_secret=CLIENT_SECRET,
                        oidc_scope="openid email profile roles")
    app = create_app(settings)
    server, thread = start_uvicorn(app, service_port, "uvicorn-oidc")
    try:
        yield LiveServer(base, settings, {}, app), provider
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture
def context(browser: Any, oidc_setup: tuple[LiveServer, Provider]) -> Iterator[Any]:
    """A fresh browser context; script errors and failed requests on the service's pages fail
    the test (the refusals' 4xx documents are expected, so their "failed to load resource"
    lines are not). The provider's dev pages ask Google for a font: answered empty here."""
    base = oidc_setup[0].base_url
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    context.route("https://fonts.googleapis.com/**",
                  lambda route: route.fulfill(status=200, content_type="text/css", body=""))
    problems: list[str] = []
    context.on("console", lambda m: problems.append(m.text) if m.type == "error"
               and m.location.get("url", "").startswith(base)
               and "status of 40" not in m.text else None)
    context.on("weberror", lambda error: problems.append(str(error.error)))
    # (ERR_ABORTED: a request cut short by the next navigation, such as the favicon of the
    # page that moves on at once after sign-in.)
    context.on("requestfailed", lambda r: problems.append(f"{r.url}: {r.failure}")
               if r.url.startswith(base) and "ERR_ABORTED" not in (r.failure or "") else None)
    try:
        yield context
    finally:
        context.close()
    assert problems == [], problems


def _log_in(page: Any, login: str) -> None:
    """Fill the provider's own login page, then its consent page."""
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill("any password")
    page.get_by_role("button", name="Sign-in").click()
    page.get_by_role("button", name="Continue").click()


def _tamper(page: Any, server: LiveServer, **changes: str) -> None:
    """Rewrite parameters of the authorization request on its way to the provider, as an
    attacker in the middle of the redirect would: the service's redirect to the provider is
    answered with the changed URL (its cookies kept)."""

    def handle(route: Any) -> None:
        response = route.fetch(max_redirects=0)
        parts = urlsplit(response.headers["location"])
        query = dict(parse_qsl(parts.query))
        query.update(changes)
        headers = [h for h in response.headers_array if h["name"].lower() != "location"]
        headers.append({"name": "Location",
                        "value": urlunsplit(parts._replace(query=urlencode(query)))})
        route.fulfill(status=response.status, headers={h["name"]: h["value"] for h in headers}
                      if len({h["name"].lower() for h in headers}) == len(headers)
                      else _joined(headers))

    page.route(re.compile(rf"^{re.escape(server.base_url)}/auth/oidc/login"), handle)


def _joined(headers: list[dict[str, str]]) -> dict[str, str]:
    joined: dict[str, str] = {}
    for header in headers:
        name = header["name"]
        joined[name] = f"{joined[name]}\n{header['value']}" if name in joined else header["value"]
    return joined


def _authorization_requests(page: Any, provider: Provider) -> list[str]:
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url) if r.url.startswith(
        f"{provider.issuer}/auth?") else None)
    return seen


def _audit_actors(server: LiveServer) -> set[tuple[str, str]]:
    from serving.db import AuditEntry

    server.app.state.audit.flush()
    with Session(server.app.state.engine) as session:
        return {(row.key_id, row.role) for row in session.scalars(select(AuditEntry))}


def _session_signed_in(context: Any, server: LiveServer) -> bool:
    answer = context.request.get(server.url("/sponsors"), max_redirects=0)
    return answer.status == 200


def test_analyst_journey_through_the_provider(oidc_setup: tuple[LiveServer, Provider],
                                              context: Any) -> None:
    server, provider = oidc_setup
    page = context.new_page()
    seen = _authorization_requests(page, provider)
    page.goto(server.url("/sponsors?band=high"))
    page.wait_for_url(f"{provider.issuer}/interaction/**")
    request = dict(parse_qsl(urlsplit(seen[0]).query))
    assert request["response_type"] == "code" and request["client_id"] == CLIENT_ID
    assert request["code_challenge_method"] == "S256" and len(request["code_challenge"]) == 43
    assert len(request["state"]) >= 32 and len(request["nonce"]) >= 32
    _log_in(page, "alice")
    page.wait_for_url(server.url("/sponsors?band=high"))
    actor = actor_id({"sub": "alice", "email": "alice@example.org"}, provider.issuer)
    assert page.get_by_text(f"Signed in as {actor.removeprefix('oidc:')} (analyst)").is_visible()
    assert page.locator("table").first.is_visible()  # the ranking, signed in
    assert (actor, "analyst") in _audit_actors(server)
    cookies = {c["name"]: c for c in context.cookies(server.base_url)}
    assert cookies["sponsorwatch_session"]["sameSite"] == "Strict"
    assert "sponsorwatch_oidc" not in cookies  # the transaction is over

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/sign-in?signed_out=true")
    assert page.get_by_text("You have signed out.").is_visible()
    assert not _session_signed_in(context, server)


def test_role_from_a_list_claim(oidc_setup: tuple[LiveServer, Provider], context: Any) -> None:
    server, provider = oidc_setup
    page = context.new_page()
    page.goto(server.url("/sign-in"))
    _log_in(page, "ada")
    page.wait_for_url(server.url("/sponsors"))
    actor = actor_id({"sub": "ada", "email": "ada@example.org"}, provider.issuer)
    assert page.get_by_text(f"Signed in as {actor.removeprefix('oidc:')} (admin)").is_visible()


def test_user_without_an_allowed_role_is_refused(oidc_setup: tuple[LiveServer, Provider],
                                                 context: Any) -> None:
    server, _ = oidc_setup
    page = context.new_page()
    page.goto(server.url("/model"))
    with page.expect_response(lambda r: "/auth/oidc/callback" in r.url) as answer:
        _log_in(page, "mallory")
    assert answer.value.status == 403
    assert page.get_by_text("Your account has no role for sponsorwatch").is_visible()
    assert not _session_signed_in(context, server)


@pytest.mark.parametrize(("tampered", "status", "text"), [
    ("state", 400, "does not belong to the sign-in started in this browser"),
    ("nonce", 400, "ID token could not be verified"),
    ("code_challenge", 400, "refused the sign-in code"),
])
def test_tampered_sign_in_is_refused(oidc_setup: tuple[LiveServer, Provider], context: Any,
                                     tampered: str, status: int, text: str) -> None:
    server, provider = oidc_setup
    page = context.new_page()
    value = "A" * 43 if tampered == "code_challenge" else "attacker-chosen-value-0123456789"
    _tamper(page, server, **{tampered: value})
    page.goto(server.url("/auth/oidc/login?next=/sponsors"))
    with page.expect_response(lambda r: "/auth/oidc/callback" in r.url) as answer:
        _log_in(page, "alice")
    assert answer.value.status == status
    assert page.get_by_text(text).is_visible()
    assert not _session_signed_in(context, server)


def test_callback_without_its_transaction_is_refused(oidc_setup: tuple[LiveServer, Provider],
                                                     context: Any) -> None:
    server, _ = oidc_setup
    answer = context.request.get(server.url("/auth/oidc/callback?code=x&state=y"),
                                 max_redirects=0)
    assert answer.status == 400
    assert "took too long or was started in another window" in answer.text()


def test_analyst_key_is_refused_while_oidc_is_on(oidc_setup: tuple[LiveServer, Provider],
                                                 context: Any) -> None:
    from serving.keys import Role, issue_key

    server, _ = oidc_setup
    with Session(server.app.state.engine) as session:
        secret = server.settings.secret_key.get_secret_value()
        analyst = issue_key(session, secret, Role.ANALYST).api_key
        admin = issue_key(session, secret, Role.ADMIN).api_key
    page = context.new_page()
    page.goto(server.url("/sign-in?method=key"))
    page.get_by_label("Analyst key").fill(analyst)
    page.get_by_role("button", name="Sign in", exact=True).click()
    assert page.get_by_text("a key signs in administrators only").is_visible()
    page.get_by_label("Analyst key").fill(admin)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url("**/sponsors")
