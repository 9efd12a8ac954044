"""The audit trail: who saw which sponsor's score or features, when, through which endpoint.

Requests only append to an in-memory queue; one writer thread inserts the rows in batches.
The queue is bounded: when the database falls behind (a flat-out load on a large SQLite
file), a request waits for room instead of memory growing without limit.
``AuditWriter.close`` drains the queue before returning (called at shutdown), and rows
that still cannot be written are appended to a JSONL file beside the database rather than
dropped. Retention: ``purge_audit`` deletes rows older than ``audit_retention_days``.
"""

from __future__ import annotations

import csv
import json
import logging
import queue
import threading
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.orm import Session

from serving.db import AuditEntry, utc_now

log = logging.getLogger(__name__)

_BATCH = 2_000
#: Rows that may wait for the writer (about 0.6 KB each) before requests wait for it.
MAX_PENDING = 50_000
AUDIT_COLUMNS = ("id", "at", "key_id", "role", "endpoint", "sponsor_ids", "sponsor_count",
                 "model_version", "score_as_of")


def audit_row(key_id: str, role: str, endpoint: str, sponsor_ids: Sequence[str],
              model_version: str | None, score_as_of: date | None) -> dict[str, Any]:
    """One audit row, timestamped now."""
    return {"at": utc_now(), "key_id": key_id, "role": role, "endpoint": endpoint,
            "sponsor_ids": json.dumps(list(sponsor_ids)), "sponsor_count": len(sponsor_ids),
            "model_version": model_version, "score_as_of": score_as_of}


#: Endpoint column of a promotion recorded by ``sponsorwatch promote`` (not an HTTP call).
PROMOTION_EVENT = "CLI promote"
_ENDPOINT_LENGTH = 200


def promotion_row(version: str, *, forced: bool, by: str | None, reason: str | None,
                  previous: str | None = None,
                  score_as_of: date | None = None) -> dict[str, Any]:
    """The audit row of a promotion: who moved the champion to ``version``, whether the
    gates were forced and why, in the ``endpoint`` column (cut to its 200 characters; the
    full reason is on the version's MLflow tags). ``key_id`` and ``role`` are ``cli``."""
    detail = (f"{PROMOTION_EVENT} v{version}"
              + (f" (was v{previous})" if previous else "")
              + (" FORCED" if forced else " gates passed")
              + f" by {by or 'unnamed'}" + (f": {reason}" if reason else ""))
    if len(detail) > _ENDPOINT_LENGTH:
        detail = detail[:_ENDPOINT_LENGTH - 1] + "…"
    return {"at": utc_now(), "key_id": "cli", "role": "cli", "endpoint": detail,
            "sponsor_ids": "[]", "sponsor_count": 0, "model_version": str(version),
            "score_as_of": score_as_of}


def record_event(engine: Engine, row: dict[str, Any]) -> None:
    """Write one audit row now (commands, not requests: no writer thread)."""
    with engine.begin() as conn:
        conn.execute(insert(AuditEntry), [row])


class AuditWriter:
    """Batches audit rows to the database from a background thread.

    The thread wakes every ``flush_seconds`` and writes whatever was queued; a request's
    ``record`` only appends to a queue and wakes nobody, so it costs about a microsecond
    of the request's time, until the queue is full.
    """

    def __init__(self, engine: Engine, spill_file: Path | None = None,
                 flush_seconds: float = 0.5, max_pending: int = MAX_PENDING):
        self._engine = engine
        self._spill_file = spill_file
        self._flush_seconds = flush_seconds
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=max_pending)
        self._stopping = threading.Event()
        # Held while rows are between the queue and the database, so that ``flush`` also
        # waits for a batch the thread has taken but not yet written.
        self._in_flight = threading.Lock()
        self._thread: threading.Thread | None = None
        self.written = 0
        self.failed_batches = 0

    def start(self) -> None:
        if self._thread is None:
            self._stopping.clear()
            self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
            self._thread.start()

    def record(self, row: dict[str, Any]) -> None:
        """Queue a row (see :func:`audit_row`); blocks only while ``max_pending`` rows
        already wait for the writer (back-pressure, nothing dropped)."""
        self._queue.put(row)

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    def flush(self) -> None:
        """Write everything queued so far, synchronously (tests, CLI, shutdown)."""
        with self._in_flight:
            rows = self._drain()
            if rows:
                self._write(rows)

    def close(self) -> None:
        """Stop the thread after writing every queued row."""
        if self._thread is not None:
            self._stopping.set()
            self._thread.join()
            self._thread = None
        self.flush()

    def _drain(self) -> list[dict[str, Any]]:
        rows = []
        while True:
            try:
                rows.append(self._queue.get_nowait())
            except queue.Empty:
                return rows

    def _run(self) -> None:
        pending: list[dict[str, Any]] = []
        while True:
            stopping = self._stopping.wait(self._flush_seconds)
            with self._in_flight:
                pending.extend(self._drain())
                # A failed write is retried on the next wake-up; at shutdown it is spilled.
                if pending and self._write(pending, spill=stopping):
                    pending = []
            if stopping:
                return

    def _write(self, rows: list[dict[str, Any]], spill: bool = True) -> bool:
        try:
            with self._engine.begin() as conn:
                for start in range(0, len(rows), _BATCH):
                    conn.execute(insert(AuditEntry), rows[start:start + _BATCH])
        except Exception:  # the database may be briefly down: retry later, then spill
            self.failed_batches += 1
            log.exception("audit: could not write %d rows", len(rows))
            if not spill:
                return False
            self._spill(rows)
            return True
        self.written += len(rows)
        return True

    def _spill(self, rows: list[dict[str, Any]]) -> None:
        if self._spill_file is None:
            log.error("audit: %d rows lost (no spill file)", len(rows))
            return
        self._spill_file.parent.mkdir(parents=True, exist_ok=True)
        with self._spill_file.open("a", encoding="utf-8") as out:
            for row in rows:
                out.write(json.dumps(row, default=str) + "\n")
        log.error("audit: %d rows written to %s instead", len(rows), self._spill_file)


def purge_audit(engine: Engine, retention_days: int, now: datetime | None = None) -> int:
    """Delete audit rows older than ``retention_days``; returns how many went."""
    cutoff = (now or utc_now()) - timedelta(days=retention_days)
    with engine.begin() as conn:
        result = conn.execute(delete(AuditEntry).where(AuditEntry.at < cutoff))
    return result.rowcount or 0


def iter_audit(engine: Engine, since: datetime | None = None,
               until: datetime | None = None) -> Iterator[dict[str, Any]]:
    """Audit rows in time order as plain dicts (``sponsor_ids`` decoded to a list)."""
    query = select(AuditEntry).order_by(AuditEntry.at, AuditEntry.id)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if until is not None:
        query = query.where(AuditEntry.at < until)
    with Session(engine) as session:
        for entry in session.scalars(query.execution_options(yield_per=5_000)):
            row = {c: getattr(entry, c) for c in AUDIT_COLUMNS}
            row["sponsor_ids"] = json.loads(entry.sponsor_ids)
            yield row


def export_audit(engine: Engine, destination: Path, fmt: Literal["csv", "jsonl"],
                 since: datetime | None = None, until: datetime | None = None) -> int:
    """Write the audit trail to ``destination`` (atomically); returns the row count.

    In CSV the sponsor ids are joined with ``;``.
    """
    from sponsorwatch.storage import atomic_path

    count = 0
    with atomic_path(destination) as tmp, tmp.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=AUDIT_COLUMNS) if fmt == "csv" else None
        if writer is not None:
            writer.writeheader()
        for row in iter_audit(engine, since, until):
            count += 1
            if writer is not None:
                writer.writerow({**row, "sponsor_ids": ";".join(row["sponsor_ids"])})
            else:
                out.write(json.dumps(row, default=str) + "\n")
    return count
