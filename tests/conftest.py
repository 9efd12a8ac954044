"""Fixtures shared by every test package."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sponsorwatch.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings with a fresh, empty home."""
    return Settings(home=tmp_path / "home")


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """URL of a real PostgreSQL server; skipped where none is given, failing where CI
    requires one (SPONSORWATCH_REQUIRE_POSTGRES=1)."""
    url = os.environ.get("SPONSORWATCH_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("SPONSORWATCH_REQUIRE_POSTGRES") == "1":
            pytest.fail("SPONSORWATCH_TEST_POSTGRES_URL is required here but not set")
        pytest.skip("no PostgreSQL: set SPONSORWATCH_TEST_POSTGRES_URL to run")
    return url
