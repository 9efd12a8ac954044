"""The audit trail's hash chain on SQLite and PostgreSQL: verified intact, and each edited,
deleted, inserted or reordered row named; purge keeps it verifiable; writers of several
processes (separate engines) join one chain."""

from __future__ import annotations

import threading
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, insert, select, text, update
from typer.testing import CliRunner

from serving.audit import AuditWriter, audit_row, iter_audit, purge_audit
from serving.db import AuditEntry, create_schema, make_engine, utc_now


def verify_chain(engine: Engine):  # noqa: ANN201 - ChainReport
    from serving.audit_chain import verify_chain

    return verify_chain(engine)


def write(engine: Engine, count: int, start: int = 0) -> None:
    writer = AuditWriter(engine)
    for i in range(start, start + count):
        writer.record(audit_row("k1", "analyst", "GET /v1/sponsors", [f"{i:08d}"], "3",
                                date(2025, 1, 1)))
    writer.flush()


def ids_by_seq(engine: Engine) -> dict[int, int]:
    with engine.connect() as conn:
        return {seq: row_id for seq, row_id in conn.execute(
            select(AuditEntry.seq, AuditEntry.id).order_by(AuditEntry.seq))}


def test_an_untouched_trail_verifies(db_engine: Engine) -> None:
    write(db_engine, 50)
    write(db_engine, 30, start=50)
    report = verify_chain(db_engine)
    assert report.ok, report.problems
    assert report.rows == 80 and report.first_seq == 1 and report.head_seq == 80
    assert [r["seq"] for r in iter_audit(db_engine)] == list(range(1, 81))


def test_an_edited_row_is_named(db_engine: Engine) -> None:
    write(db_engine, 10)
    row_id = ids_by_seq(db_engine)[4]
    with db_engine.begin() as conn:
        conn.execute(update(AuditEntry).where(AuditEntry.id == row_id)
                     .values(sponsor_ids='["99999999"]'))
    report = verify_chain(db_engine)
    assert report.problems == [f"row id {row_id} (seq 4) was edited: its content does not "
                               f"match its hash {report.problems[0].rsplit(' ', 1)[1]}"]


def test_a_deleted_row_is_named(db_engine: Engine) -> None:
    write(db_engine, 10)
    ids = ids_by_seq(db_engine)
    with db_engine.begin() as conn:
        conn.execute(delete(AuditEntry).where(AuditEntry.id == ids[6]))
    report = verify_chain(db_engine)
    assert not report.ok
    assert report.problems == [f"rows seq 6..6 were deleted (before row id {ids[7]}, seq 7)"]


def test_deleting_the_last_rows_is_found(db_engine: Engine) -> None:
    write(db_engine, 10)
    with db_engine.begin() as conn:
        conn.execute(delete(AuditEntry).where(AuditEntry.seq >= 9))
    [problem] = verify_chain(db_engine).problems
    assert "ends at seq 8" in problem and "deleted from the end" in problem


def test_a_reordered_row_is_named(db_engine: Engine) -> None:
    write(db_engine, 10)
    ids = ids_by_seq(db_engine)
    with db_engine.begin() as conn:  # swap the positions of seq 3 and 4 (seq is unique)
        conn.execute(update(AuditEntry).where(AuditEntry.id == ids[3]).values(seq=-3))
        conn.execute(update(AuditEntry).where(AuditEntry.id == ids[4]).values(seq=3))
        conn.execute(update(AuditEntry).where(AuditEntry.id == ids[3]).values(seq=4))
    report = verify_chain(db_engine)
    assert not report.ok
    assert any(f"row id {ids[4]} (seq 3) is out of order" in p and "reordered" in p
               for p in report.problems), report.problems
    assert not any("edited" in p or "deleted" in p for p in report.problems)


def test_inserted_rows_are_named(db_engine: Engine) -> None:
    write(db_engine, 5)
    loose = audit_row("k9", "admin", "forged", ["12345678"], "3", None)
    with db_engine.begin() as conn:
        conn.execute(insert(AuditEntry).values(**loose))
        conn.execute(insert(AuditEntry).values(
            **audit_row("k9", "admin", "forged", ["1"], "3", None), seq=6, prev_hash="0" * 64,
            row_hash="1" * 64))
    problems = verify_chain(db_engine).problems
    assert any("inserted outside the chain" in p for p in problems), problems
    assert any("(seq 6) names a predecessor that is not in the trail" in p for p in problems)
    assert any("rows inserted at the end" in p for p in problems)


def test_purge_records_itself_and_the_chain_verifies_from_there(db_engine: Engine) -> None:
    now = utc_now()
    writer = AuditWriter(db_engine)
    for i, age in enumerate([300, 250, 200, 100, 10]):
        row = audit_row("k", "analyst", "e", [str(i)], "1", None)
        row["at"] = now - timedelta(days=age)
        writer.record(row)
    writer.flush()
    assert purge_audit(db_engine, 183, now=now, actor="cli:tester") == 3
    rows = list(iter_audit(db_engine))
    purge = rows[-1]
    assert purge["endpoint"] == "audit purge" and purge["key_id"] == "cli:tester"
    assert purge["detail"]["purged_rows"] == 3 and purge["detail"]["through_seq"] == 3
    assert verify_chain(db_engine).ok
    # A later cut that no purge row records is found.
    with db_engine.begin() as conn:
        conn.execute(delete(AuditEntry).where(AuditEntry.seq == 4))
    [problem] = verify_chain(db_engine).problems
    assert "starts at seq 5" in problem and "no purge row" in problem


def test_writers_of_several_processes_join_one_chain(db_engine: Engine) -> None:
    """Each writer has its own engine (its own connections), as a worker process has."""
    url = db_engine.url.render_as_string(hide_password=False)
    search_path = None
    if db_engine.dialect.name == "postgresql":
        with db_engine.connect() as conn:
            search_path = conn.execute(text("SHOW search_path")).scalar()
    engines = [make_engine(url, schema=search_path) for _ in range(3)]
    writers = [AuditWriter(engine, flush_seconds=0.01) for engine in engines]
    for writer in writers:
        writer.start()

    def load(writer: AuditWriter, n: int) -> None:
        for i in range(400):
            writer.record(audit_row(f"w{n}", "analyst", "e", [f"{i:08d}"], "1", None))

    threads = [threading.Thread(target=load, args=(w, n)) for n, w in enumerate(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for writer in writers:
        writer.close()
    for engine in engines:
        engine.dispose()
    report = verify_chain(db_engine)
    assert report.ok, report.problems[:5]
    assert report.rows == 1_200 and report.head_seq == 1_200
    assert sum(w.failed_batches for w in writers) == 0


def test_a_row_inserted_without_a_position_is_never_chained_silently(
        db_engine: Engine) -> None:
    write(db_engine, 2)
    with db_engine.begin() as conn:
        conn.execute(insert(AuditEntry).values(
            **audit_row("forger", "analyst", "e", ["1"], "1", None)))
    create_schema(db_engine)  # as every start and command does
    write(db_engine, 2)
    problems = verify_chain(db_engine).problems
    assert len(problems) == 1 and "inserted outside the chain" in problems[0]


def test_an_old_audit_table_gets_the_chain_and_its_rows_are_chained(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE audit_log (id INTEGER PRIMARY KEY, at DATETIME, "
                          "key_id VARCHAR(16), role VARCHAR(16), endpoint VARCHAR(200), "
                          "sponsor_ids TEXT, sponsor_count INTEGER, model_version VARCHAR(64), "
                          "score_as_of DATE)"))
        for i in range(3):
            conn.execute(text(
                "INSERT INTO audit_log (at, key_id, role, endpoint, sponsor_ids, "
                f"sponsor_count) VALUES ('2026-01-0{i + 1} 00:00:00.000000', 'k', 'analyst', "
                "'e', '[\"1\"]', 1)"))
    create_schema(engine)
    write(engine, 2)
    report = verify_chain(engine)
    assert report.ok, report.problems
    assert report.rows == 5


def test_audit_verify_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cli.main import app

    home = tmp_path / "home"
    home.mkdir()
    engine = make_engine(f"sqlite:///{home / 'service.db'}")
    create_schema(engine)
    write(engine, 6)
    ok = CliRunner().invoke(app, ["--home", str(home), "audit", "verify"])
    assert ok.exit_code == 0 and "audit trail intact: 6 rows" in ok.output, ok.output
    ids = ids_by_seq(engine)
    with engine.begin() as conn:
        conn.execute(update(AuditEntry).where(AuditEntry.id == ids[2]).values(key_id="x"))
        conn.execute(delete(AuditEntry).where(AuditEntry.id == ids[4]))
    broken = CliRunner().invoke(app, ["--home", str(home), "audit", "verify"])
    assert broken.exit_code == 1
    assert f"row id {ids[2]} (seq 2) was edited" in broken.output
    assert "rows seq 4..4 were deleted" in broken.output
