"""The audit trail: who saw which sponsor's score or features, when, through which endpoint.

Requests only append to an in-memory queue; one writer thread inserts the rows in batches.
The queue is bounded: when the database falls behind (a flat-out load on a large SQLite
file), a request waits for room instead of memory growing without limit.
``AuditWriter.close`` drains the queue before returning (called at shutdown), and rows
that still cannot be written are appended to a JSONL file beside the database rather than
dropped.

Tamper evidence: the rows form one hash chain. Each row has a position ``seq`` (1, 2, ...),
the hash of the row before it (``prev_hash``) and its own hash ``row_hash`` = SHA-256 of
its content and ``prev_hash`` (:func:`row_digest`). There is one chain for the whole
database, whatever the number of worker processes: a writer appends a batch inside one
transaction that first takes the write lock on the chain's head row (``audit_chain_head``,
an ``UPDATE`` that PostgreSQL holds as a row lock and SQLite as its database write lock,
as ``BEGIN IMMEDIATE`` would), reads the last ``seq`` and hash, chains its rows in queue
order, inserts them and moves the head. Writers of several processes thus queue on the
head for a few milliseconds per batch (a batch every ``flush_seconds``), and the chain
stays gap-free and totally ordered; ``seq`` is unique, so two writers can never both
write a position. ``verify_chain`` (``sponsorwatch audit verify``) walks the chain and
names each edited, deleted, inserted or reordered row. An attacker who can write the
database could recompute every hash after an edit: ``audit verify`` prints the head
(``seq`` and hash) so that it can be kept elsewhere and compared later.

No code path updates or deletes a chained row but retention: ``purge_audit`` deletes the
oldest rows (a prefix of the chain, older than ``audit_retention_days``) and appends a
purge row that records how many went, the last ``seq`` deleted and that row's hash. The
first remaining row names that hash as its predecessor, so the chain stays verifiable from
there; a trail that starts later than a purge says is reported as cut.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import queue
import threading
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.orm import Session

from serving.db import AuditChainHead, AuditEntry, lock_chain_head, row_digest, utc_now

log = logging.getLogger(__name__)

_BATCH = 2_000
#: Rows that may wait for the writer (about 0.6 KB each) before requests wait for it.
MAX_PENDING = 50_000
AUDIT_COLUMNS = ("id", "at", "key_id", "role", "endpoint", "sponsor_ids", "sponsor_count",
                 "model_version", "score_as_of", "detail", "seq", "prev_hash", "row_hash")


def audit_row(key_id: str, role: str, endpoint: str, sponsor_ids: Sequence[str],
              model_version: str | None, score_as_of: date | None,
              detail: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One audit row, timestamped now; ``detail`` (JSON-able) is stored with it."""
    return {"at": utc_now(), "key_id": key_id, "role": role, "endpoint": endpoint,
            "sponsor_ids": json.dumps(list(sponsor_ids)), "sponsor_count": len(sponsor_ids),
            "model_version": model_version, "score_as_of": score_as_of,
            "detail": _detail_text(detail)}


def _detail_text(detail: Mapping[str, Any] | None) -> str | None:
    if detail is None:
        return None
    return json.dumps(detail, sort_keys=True, separators=(",", ":"), default=str)


def content_hash(payload: Any) -> str:
    """SHA-256 of ``payload`` as canonical JSON (sorted keys): the records endpoint's
    inputs, so that a score can be reproduced from the same records and checked."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _lock_head(conn: Connection) -> tuple[int, str]:
    return lock_chain_head(conn)


def append_rows(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Chain ``rows`` after the current head and insert them, in this transaction (which
    then holds the chain's lock until it ends). The given dicts are not changed."""
    if not rows:
        return
    seq, prev = _lock_head(conn)
    chained = []
    for row in rows:
        seq += 1
        full = {"detail": None, **row, "seq": seq, "prev_hash": prev}
        full.pop("id", None)
        full["row_hash"] = prev = row_digest(full, full["prev_hash"])
        chained.append(full)
    for start in range(0, len(chained), _BATCH):
        conn.execute(insert(AuditEntry), chained[start:start + _BATCH])
    conn.execute(update(AuditChainHead).where(AuditChainHead.id == 1)
                 .values(seq=seq, row_hash=prev))


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


def key_event_row(actor: str, role: str, event: str, key_id: str, key_role: str,
                  label: str = "") -> dict[str, Any]:
    """The audit row of a key issued or revoked: who (``actor``, ``role``) did ``event``
    (an endpoint or ``CLI keys create``) to which key."""
    return audit_row(actor, role, event, [], None, None,
                     detail={"key_id": key_id, "key_role": key_role, "label": label[:200]})


def record_event(engine: Engine, row: dict[str, Any]) -> None:
    """Write one audit row now (commands, not requests: no writer thread)."""
    with engine.begin() as conn:
        append_rows(conn, [row])


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
            with self._engine.begin() as conn:  # one chained transaction per batch
                append_rows(conn, rows)
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


#: Endpoint column of a retention purge (detail: purged_rows, through_seq, last_hash).
PURGE_EVENT = "audit purge"


def purge_audit(engine: Engine, retention_days: int, now: datetime | None = None,
                actor: str = "service") -> int:
    """Delete the audit rows older than ``retention_days``; returns how many went.

    Only the oldest part of the chain goes (every row before the first one still within
    retention), so the rest stays one unbroken chain; a purge row is then appended, in the
    same transaction, naming the rows deleted and the hash of the last of them, which the
    first remaining row names as its predecessor. ``actor`` is who purged (``key_id``)."""
    cutoff = (now or utc_now()) - timedelta(days=retention_days)
    with engine.begin() as conn:
        _lock_head(conn)
        first_kept = conn.scalar(select(func.min(AuditEntry.seq)).where(
            AuditEntry.at >= cutoff, AuditEntry.seq.is_not(None)))
        old = select(func.max(AuditEntry.seq)).where(AuditEntry.at < cutoff)
        through = conn.scalar(old if first_kept is None else
                              old.where(AuditEntry.seq < first_kept))
        if through is None:
            return 0
        last_hash = conn.scalar(select(AuditEntry.row_hash).where(AuditEntry.seq == through))
        purged = conn.execute(delete(AuditEntry).where(AuditEntry.seq <= through)).rowcount or 0
        append_rows(conn, [{
            "at": utc_now(), "key_id": actor[:200], "role": "retention",
            "endpoint": PURGE_EVENT, "sponsor_ids": "[]", "sponsor_count": 0,
            "model_version": None, "score_as_of": None,
            "detail": _detail_text({"purged_rows": purged, "through_seq": through,
                                    "last_hash": last_hash, "cutoff": cutoff.isoformat(),
                                    "retention_days": retention_days})}])
    return purged


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
            row["detail"] = json.loads(entry.detail) if entry.detail else None
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
                writer.writerow({**row, "sponsor_ids": ";".join(row["sponsor_ids"]),
                                 "detail": _detail_text(row["detail"]) or ""})
            else:
                out.write(json.dumps(row, default=str) + "\n")
    return count
