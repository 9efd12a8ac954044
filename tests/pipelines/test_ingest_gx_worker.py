"""The great-expectations worker: results come back through futures, errors too, and a
failed ingest cancels the tables not validated yet."""

from __future__ import annotations

import threading

import polars as pl
import pytest

from pipelines.ingest import gx_worker
from sponsorwatch.contract import TABLES


@pytest.fixture
def slow_start(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """GX 'imports' until the returned event is set; validation records the tables."""
    release = threading.Event()
    monkeypatch.setattr(gx_worker, "start_gx", lambda: (release.wait(10), None))
    return release


def test_results_and_errors_come_back_through_the_futures(
        slow_start: threading.Event, monkeypatch: pytest.MonkeyPatch) -> None:
    def validate(context: object, source: object, table, parsed, known) -> str:
        if table.name == "payroll":
            raise ValueError("payroll broke")
        return f"{table.name}: {parsed.height} rows"

    monkeypatch.setattr(gx_worker, "validate_table", validate)
    worker = gx_worker.GxWorker()
    sponsors = worker.submit(TABLES["sponsors"], pl.DataFrame({"a": [1, 2]}), {})
    payroll = worker.submit(TABLES["payroll"], pl.DataFrame({"a": [1]}), {})
    worker.close()
    slow_start.set()
    assert sponsors.result(timeout=10) == "sponsors: 2 rows"
    with pytest.raises(ValueError, match="payroll broke"):
        payroll.result(timeout=10)


def test_closing_after_a_failure_cancels_what_is_not_validated_yet(
        slow_start: threading.Event, monkeypatch: pytest.MonkeyPatch) -> None:
    validated: list[str] = []
    monkeypatch.setattr(gx_worker, "validate_table",
                        lambda context, source, table, parsed, known: validated.append(table))
    worker = gx_worker.GxWorker()
    pending = [worker.submit(TABLES[name], pl.DataFrame(), {}) for name in ("sponsors",
                                                                            "permits")]
    worker.close(cancel=True)
    slow_start.set()
    worker._thread.join(10)
    assert all(f.cancelled() for f in pending) and validated == []
