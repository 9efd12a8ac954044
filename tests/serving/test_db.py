"""Keys, reviews, audit trail and retention on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from serving.audit import (
    PURGE_EVENT,
    AuditWriter,
    audit_row,
    export_audit,
    iter_audit,
    purge_audit,
)
from serving.db import ApiKey, AuditEntry, utc_now
from serving.keys import KeyVerifier, Role, hash_key, issue_key, list_keys, revoke_key
from serving.reviews import (
    ReviewConflict,
    add_review,
    export_inspections,
    inspections_frame,
    record_outcome,
    reviews_of,
)
from sponsorwatch.contract import INSPECTIONS

SECRET = "test-secret"


def test_keys_are_stored_only_as_hmac(db_engine: Engine) -> None:
    with Session(db_engine) as session:
        issued = issue_key(session, SECRET, Role.ANALYST, "alice")
        rows = list_keys(session)
    assert issued.api_key.startswith(f"sw_{issued.key_id}_")
    [row] = rows
    assert row.key_hash == hash_key(SECRET, issued.api_key)
    assert issued.api_key not in (row.key_hash, row.key_id, row.label)
    assert row.role == "analyst" and row.revoked_at is None


def test_verifier_accepts_valid_refuses_wrong_and_revoked(db_engine: Engine) -> None:
    with Session(db_engine) as session:
        issued = issue_key(session, SECRET, "case-system")
    verifier = KeyVerifier(db_engine, SECRET)
    caller = verifier.verify(issued.api_key)
    assert caller is not None and caller.role is Role.CASE_SYSTEM
    assert verifier.verify(issued.api_key + "x") is None
    assert KeyVerifier(db_engine, "another-secret").verify(issued.api_key) is None
    with Session(db_engine) as session:
        assert revoke_key(session, issued.key_id) is not None
        assert revoke_key(session, "nosuchid") is None
    # Cached until forgotten (API revocation) or expired (CLI revocation).
    assert verifier.verify(issued.api_key) is not None
    verifier.forget(issued.key_id)
    assert verifier.verify(issued.api_key) is None
    assert KeyVerifier(db_engine, SECRET, cache_seconds=0).verify(issued.api_key) is None


def test_roles_admin_may_everything() -> None:
    from serving.keys import Caller

    admin = Caller("a", Role.ADMIN)
    analyst = Caller("b", Role.ANALYST)
    assert all(admin.may(r) for r in Role)
    assert analyst.may(Role.ANALYST)
    assert not analyst.may(Role.CASE_SYSTEM) and not analyst.may(Role.ADMIN)


def test_audit_writer_batches_and_loses_nothing_on_close(db_engine: Engine) -> None:
    writer = AuditWriter(db_engine, flush_seconds=5.0)
    writer.start()
    for i in range(2_500):
        writer.record(audit_row("k1", "analyst", "GET /v1/sponsors", [f"{i:08d}"], "3",
                                date(2025, 1, 1)))
    writer.close()
    with Session(db_engine) as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == 2_500
    rows = list(iter_audit(db_engine))
    assert rows[0]["sponsor_ids"] == ["00000000"]
    assert {r["model_version"] for r in rows} == {"3"}
    assert writer.written == 2_500


class SlowAuditWriter(AuditWriter):
    """Takes its time between draining the queue and the database, as a busy server does."""

    def _write(self, rows: list, spill: bool = True) -> bool:  # type: ignore[type-arg]
        time.sleep(0.4)
        return super()._write(rows, spill)


def test_flush_waits_for_the_batch_the_thread_is_writing(db_engine: Engine) -> None:
    writer = SlowAuditWriter(db_engine, flush_seconds=0.01)
    writer.start()
    writer.record(audit_row("k1", "analyst", "GET /sponsors", ["12345678"], "1", None))
    time.sleep(0.15)  # the thread has taken the row and is writing it
    assert writer.pending == 0
    writer.flush()
    with Session(db_engine) as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == 1
    writer.close()


def test_a_full_queue_holds_the_request_until_the_writer_catches_up(db_engine: Engine) -> None:
    writer = AuditWriter(db_engine, max_pending=2)  # no thread: nothing drains by itself
    for sponsor in ("00000001", "00000002"):
        writer.record(audit_row("k1", "analyst", "e", [sponsor], "1", None))
    third = threading.Thread(target=writer.record,
                             args=(audit_row("k1", "analyst", "e", ["00000003"], "1", None),))
    third.start()
    third.join(0.3)
    assert third.is_alive() and writer.pending == 2  # waiting, not dropped, not growing
    writer.flush()
    third.join(5)
    assert not third.is_alive()
    writer.flush()
    assert [r["sponsor_ids"] for r in iter_audit(db_engine)] == [["00000001"], ["00000002"],
                                                                 ["00000003"]]


def test_audit_spills_to_file_when_database_is_gone(tmp_path: Path) -> None:
    from serving.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}")
    spill = tmp_path / "spill.jsonl"
    writer = AuditWriter(engine, spill_file=spill)
    writer.record(audit_row("k", "admin", "e", ["12345678"], None, None))
    writer.close()
    [line] = spill.read_text().splitlines()
    assert json.loads(line)["sponsor_ids"] == '["12345678"]'


def test_purge_keeps_retention_window(db_engine: Engine) -> None:
    now = utc_now()
    old, recent = audit_row("k", "analyst", "e", ["1"], "1", None), audit_row(
        "k", "analyst", "e", ["2"], "1", None)
    old["at"] = now - timedelta(days=200)
    recent["at"] = now - timedelta(days=100)
    writer = AuditWriter(db_engine)
    writer.record(old)
    writer.record(recent)
    writer.flush()
    assert purge_audit(db_engine, retention_days=183, now=now) == 1
    kept, purge = list(iter_audit(db_engine))  # the purge records itself in the trail
    assert kept["sponsor_ids"] == ["2"]
    assert purge["endpoint"] == PURGE_EVENT and purge["detail"]["purged_rows"] == 1
    assert purge_audit(db_engine, retention_days=183, now=now) == 0


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_audit_export(db_engine: Engine, tmp_path: Path, fmt: str) -> None:
    writer = AuditWriter(db_engine)
    writer.record(audit_row("k1", "case-system", "POST /v1/scores", ["11111111", "22222222"],
                            "7", date(2025, 6, 1)))
    writer.flush()
    out = tmp_path / f"audit.{fmt}"
    assert export_audit(db_engine, out, fmt) == 1  # type: ignore[arg-type]
    if fmt == "csv":
        frame = pl.read_csv(out, schema_overrides={"sponsor_ids": pl.String})
        assert frame["sponsor_ids"][0] == "11111111;22222222"
        assert frame["endpoint"][0] == "POST /v1/scores"
    else:
        row = json.loads(out.read_text())
        assert row["sponsor_ids"] == ["11111111", "22222222"] and row["key_id"] == "k1"


def test_reviews_become_contract_inspections(db_engine: Engine, tmp_path: Path) -> None:
    with Session(db_engine) as session:
        inspect = add_review(session, "12345678", "inspect", "wages look low", "k1",
                             date(2025, 3, 1), "4", 0.8, date(2025, 2, 1))
        add_review(session, "87654321", "dismiss", "university", "k1", date(2025, 3, 2),
                   "4", 0.6, date(2025, 2, 1))
        pending = add_review(session, "11112222", "inspect", "", "k2", date(2025, 3, 3),
                             "4", 0.7, date(2025, 2, 1))
        record_outcome(session, inspect.review_id, "VIOLATION", date(2025, 5, 1),
                       ["UNDERPAYMENT"], 3000.0, "confirmed", "k3")
        assert [r.decision for r in reviews_of(session, "12345678")] == ["inspect"]
        count = export_inspections(session, tmp_path / "inspections.parquet")
        export_inspections(session, tmp_path / "inspections.csv")
    assert count == 2
    frame = pl.read_parquet(tmp_path / "inspections.parquet")
    assert frame.schema == INSPECTIONS.schema
    closed = frame.filter(pl.col("inspection_id") == f"REV-{inspect.review_id}").row(0, named=True)
    assert closed["outcome"] == "VIOLATION" and closed["selection"] == "RISK_BASED"
    assert closed["opened_on"] == date(2025, 3, 1) and closed["closed_on"] == date(2025, 5, 1)
    assert closed["findings"] == ["UNDERPAYMENT"] and closed["fine_eur"] == 3000.0
    still_open = frame.filter(pl.col("inspection_id") == f"REV-{pending.review_id}")
    assert still_open["outcome"][0] == "OPEN" and still_open["closed_on"][0] is None
    csv = (tmp_path / "inspections.csv").read_text()
    assert "UNDERPAYMENT" in csv and "RISK_BASED" in csv


def test_outcome_refused_for_dismissal_and_early_close(db_engine: Engine) -> None:
    with Session(db_engine) as session:
        dismissed = add_review(session, "12345678", "dismiss", "", "k", date(2025, 3, 1),
                               None, None, None)
        opened = add_review(session, "12345678", "inspect", "", "k", date(2025, 3, 1),
                            None, None, None)
        with pytest.raises(ReviewConflict, match="dismissed"):
            record_outcome(session, dismissed.review_id, "VIOLATION", date(2025, 4, 1), [],
                           None, "", "k")
        with pytest.raises(ReviewConflict, match="before the inspection opened"):
            record_outcome(session, opened.review_id, "VIOLATION", date(2025, 2, 1), [], None,
                           "", "k")
        assert record_outcome(session, "missing", "OPEN", None, [], None, "", "k") is None


def test_export_refuses_rows_breaking_the_contract() -> None:
    from serving.db import Review

    bad = Review(review_id="r", sponsor_id="12345678", decision="inspect", note="",
                 decided_on=date(2025, 3, 1), key_id="k", outcome="VIOLATION",
                 closed_on=date(2025, 4, 1), fine_eur=-5.0)
    with pytest.raises(ValueError, match="fine_eur_in_range"):
        inspections_frame([bad])
    assert ApiKey.__tablename__ == "api_keys"
