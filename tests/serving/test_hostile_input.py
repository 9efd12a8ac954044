"""Hostile input is bounded: bodies over the byte limit are refused unread (413), whether
they declare their length or stream it; review and outcome dates outside 2000..today are
422 naming the field; nothing of what was sent comes back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from serving.app import create_app
from serving.schemas import OutcomeIn, ReviewIn
from sponsorwatch.settings import Settings

LIMIT = 4096


@pytest.fixture
def small_limit_client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(home=tmp_path / "home", max_request_bytes=LIMIT)
    with TestClient(create_app(settings)) as client:
        yield client


def test_declared_body_over_the_limit_is_413_before_any_key_check(
        small_limit_client: TestClient) -> None:
    body = b'{"sponsor_ids": ["' + b"1" * (LIMIT * 3) + b'"]}'
    answer = small_limit_client.post("/v1/scores", content=body,
                                     headers={"content-type": "application/json"})
    assert answer.status_code == 413
    assert str(LIMIT) in answer.json()["detail"]
    assert b"1111" not in answer.content


def test_streamed_body_over_the_limit_is_413(small_limit_client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"as_of": "2024-01-01", "tables": {"sponsors": ['
        for _ in range(200):
            yield b'{"sponsor_id": "12345678", "name": "' + b"x" * 100 + b'"},'
        yield b"]}}"

    answer = small_limit_client.post("/v1/scores/records", content=chunks(),
                                     headers={"content-type": "application/json"})
    assert answer.status_code == 413
    assert b"xxxx" not in answer.content


def test_body_under_the_limit_reaches_the_route(small_limit_client: TestClient) -> None:
    answer = small_limit_client.post("/v1/scores", json={"sponsor_ids": ["12345678"]})
    assert answer.status_code == 401  # past the size check, stopped by the key check


def test_default_limit_admits_a_large_records_request(tmp_path: Path) -> None:
    assert Settings(home=tmp_path).max_request_bytes >= 4 * 1024 * 1024


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "1999-12-31"])
def test_review_dates_outside_2000_to_today_are_refused(day: str) -> None:
    with pytest.raises(ValidationError, match="decided_on"):
        ReviewIn(decision="inspect", decided_on=date.fromisoformat(day))
    with pytest.raises(ValidationError, match="closed_on"):
        OutcomeIn(outcome="VIOLATION", closed_on=date.fromisoformat(day))


def test_outcome_dates_in_the_future_are_refused() -> None:
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    with pytest.raises(ValidationError, match="today"):
        OutcomeIn(outcome="NO_VIOLATION", closed_on=tomorrow)
    today = datetime.now(UTC).date()
    assert OutcomeIn(outcome="NO_VIOLATION", closed_on=today).closed_on == today
    assert ReviewIn(decision="dismiss", decided_on=date(2000, 1, 1)).decided_on == date(2000, 1, 1)
