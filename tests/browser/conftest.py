"""Fixtures of the end-to-end tests: one headless Debian Chromium per session (driven by
Playwright, never `playwright install`) and the real service under uvicorn on a free
loopback port, serving a copy of the scored home.

Without /usr/bin/chromium the tests are skipped, unless SPONSORWATCH_REQUIRE_BROWSER=1
(CI), where a missing browser fails them.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from sponsorwatch.settings import Settings
from tests.serving.conftest import copy_home

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Chromium for the whole session."""
    if not CHROMIUM.exists():
        message = (f"{CHROMIUM} is missing (`bash scripts/install.sh --with-browser` installs "
                   "Debian's chromium)")
        if os.environ.get("SPONSORWATCH_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser required here: {message}")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                              args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class LiveServer:
    """The service listening on 127.0.0.1, with one key per role."""

    base_url: str
    settings: Settings
    keys: dict[str, str]
    app: Any

    def url(self, path: str) -> str:
        return self.base_url + path


def start_uvicorn(app: Any, port: int, name: str = "uvicorn") -> tuple[Any, threading.Thread]:
    """Serve ``app`` on 127.0.0.1:``port`` in a thread; fail the test if it does not start
    within two minutes."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the service did not start")
        time.sleep(0.05)
    return server, thread


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def live_server(scored_home: Path, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[LiveServer]:

    from serving.app import create_app
    from serving.keys import Role, issue_key

    settings = Settings(home=copy_home(scored_home, tmp_path_factory.mktemp("live") / "home"))
    app = create_app(settings)
    port = _free_port()
    server, thread = start_uvicorn(app, port)
    with Session(app.state.engine) as session:
        keys = {role.value: issue_key(session, settings.secret_key.get_secret_value(),
                                      role).api_key for role in Role}
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", settings, keys, app)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context (no cookies) and page per test. Any script error or
    console error (a blocked asset, a content-security-policy violation) fails the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900},
                                  accept_downloads=True)
    context.set_default_timeout(15_000)
    problems: list[str] = []
    page = context.new_page()
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    try:
        yield page
    finally:
        context.close()
    assert problems == [], problems


def sign_in(page: Any, server: LiveServer, role: str = "analyst") -> None:
    page.goto(server.url("/sign-in"))
    page.get_by_label("Analyst key").fill(server.keys[role])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/sponsors")
