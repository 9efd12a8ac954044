"""The service database: API keys, analyst reviews and the audit trail (hash-chained).

SQLite under the home by default (``service.db``), PostgreSQL through
``SPONSORWATCH_DATABASE_URL``. Tables are created on start-up (``create_schema``); the
schema is small and additive, so no migration tool is needed yet.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Date,
    DateTime,
    Engine,
    Float,
    Index,
    Integer,
    String,
    Text,
    create_engine,
    event,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

#: SQLite only auto-increments an ``INTEGER PRIMARY KEY``; PostgreSQL gets a BIGINT.
_BIG_ID = BigInteger().with_variant(Integer, "sqlite")
_ACTOR_LENGTH = 200


def utc_now() -> datetime:
    """Naive UTC timestamp: stored the same way on SQLite and PostgreSQL."""
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class ApiKey(Base):
    """An issued API key. Only its HMAC and its public id are stored, never the key."""

    __tablename__ = "api_keys"

    key_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    role: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(), default=utc_now)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(), nullable=True)


class Review(Base):
    """An analyst's decision on a sponsor and, for an inspection, its later outcome."""

    __tablename__ = "reviews"

    review_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    sponsor_id: Mapped[str] = mapped_column(String(16), index=True)
    decision: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    decided_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(), default=utc_now)
    key_id: Mapped[str] = mapped_column(String(16))
    model_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    score_as_of: Mapped[date | None] = mapped_column(Date, nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
    closed_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    #: JSON list of contract FINDINGS.
    findings: Mapped[str | None] = mapped_column(Text, nullable=True)
    fine_eur: Mapped[float | None] = mapped_column(Float, nullable=True)
    outcome_note: Mapped[str] = mapped_column(Text, default="")
    outcome_key_id: Mapped[str | None] = mapped_column(String(16), nullable=True)
    outcome_at: Mapped[datetime | None] = mapped_column(DateTime(), nullable=True)


class AuditEntry(Base):
    """One response that revealed sponsors' scores or features (or recorded a decision)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"),)

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime())
    #: The key id, or another actor (``cli``, ``oidc:<user>``): up to 200 characters.
    key_id: Mapped[str] = mapped_column(String(_ACTOR_LENGTH))
    role: Mapped[str] = mapped_column(String(16))
    endpoint: Mapped[str] = mapped_column(String(200))
    #: JSON list of the sponsor ids revealed by the response.
    sponsor_ids: Mapped[str] = mapped_column(Text)
    sponsor_count: Mapped[int] = mapped_column(Integer)
    model_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    score_as_of: Mapped[date | None] = mapped_column(Date, nullable=True)
    #: JSON object: what else a reader needs (the records endpoint's input hash and
    #: scores, the key issued or revoked, the outcome replaced, what a purge removed).
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: Position in the hash chain (1, 2, ...; see serving.audit), its predecessor's hash
    #: and its own. Null only on rows written before the chain, until they are chained.
    seq: Mapped[int | None] = mapped_column(_BIG_ID, nullable=True, unique=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    row_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)


class AuditChainHead(Base):
    """The last link of the audit chain (one row, id 1). Writers lock it for the length of
    their transaction, so rows from every worker process join one chain in order."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(_BIG_ID, default=0)
    row_hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime(), default=utc_now)


#: Columns added to ``audit_log`` after its first release: added in place by create_schema.
_ADDED_AUDIT_COLUMNS = {"detail": "TEXT", "seq": "BIGINT", "prev_hash": "VARCHAR(64)",
                        "row_hash": "VARCHAR(64)"}
#: The ``prev_hash`` of the first row of a chain.
GENESIS_HASH = "0" * 64


def make_engine(url: str, schema: str | None = None) -> Engine:
    """An engine for ``url``; ``schema`` puts every table of a PostgreSQL connection in that
    schema (used by tests to isolate runs)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001 - DB-API objects
            cursor = dbapi_conn.cursor()
            # WAL lets the audit writer and request threads work at the same time.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    connect_args = {"options": f"-csearch_path={schema}"} if schema else {}
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args)


def create_schema(engine: Engine) -> None:
    """Create the service tables where missing and the audit chain's head row; an
    ``audit_log`` from before the chain gets its columns, and its rows are chained then,
    once, in id order (later rows without a position are reported by ``audit verify`` as
    inserted outside the chain, never chained silently)."""
    Base.metadata.create_all(engine)
    try:
        with engine.begin() as conn:
            if conn.scalar(select(AuditChainHead.id).where(AuditChainHead.id == 1)) is None:
                conn.execute(insert(AuditChainHead).values(id=1, seq=0, row_hash=GENESIS_HASH,
                                                           updated_at=utc_now()))
    except IntegrityError:  # another process created it at the same moment
        pass
    columns = {c["name"]: c for c in inspect(engine).get_columns("audit_log")}
    missing = {name: kind for name, kind in _ADDED_AUDIT_COLUMNS.items() if name not in columns}
    narrow = getattr(columns["key_id"]["type"], "length", None) or _ACTOR_LENGTH
    widen = narrow < _ACTOR_LENGTH and engine.dialect.name == "postgresql"
    if not (missing or widen):
        return
    with engine.begin() as conn:
        for name, kind in missing.items():
            conn.execute(text(f"ALTER TABLE audit_log ADD COLUMN {name} {kind}"))
        conn.execute(text("CREATE UNIQUE INDEX IF NOT EXISTS ix_audit_log_seq "
                          "ON audit_log (seq)"))
        if widen:
            conn.execute(text(f"ALTER TABLE audit_log ALTER COLUMN key_id "
                              f"TYPE VARCHAR({_ACTOR_LENGTH})"))
        if "seq" in missing:
            _chain_rows_from_before_the_chain(conn)


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def row_digest(row: Mapping[str, Any], prev_hash: str) -> str:
    """The chain hash of an audit row: SHA-256 over its content and its predecessor's
    hash. The position ``seq`` is not part of it: the link to the predecessor fixes the
    order (see ``serving.audit``)."""
    content = [prev_hash, _iso(row["at"]), row["key_id"], row["role"], row["endpoint"],
               row["sponsor_ids"], int(row["sponsor_count"]), row["model_version"],
               _iso(row["score_as_of"]), row.get("detail")]
    payload = json.dumps(content, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


def lock_chain_head(conn: Connection) -> tuple[int, str]:
    """Take the audit chain's write lock for this transaction (an UPDATE of the head row:
    a row lock on PostgreSQL, the database write lock on SQLite); the last (seq, hash)."""
    moved = conn.execute(update(AuditChainHead).where(AuditChainHead.id == 1)
                         .values(updated_at=utc_now()))
    if moved.rowcount != 1:
        raise RuntimeError("the audit chain has no head row: run create_schema first")
    seq, last = conn.execute(select(AuditChainHead.seq, AuditChainHead.row_hash)
                             .where(AuditChainHead.id == 1)).one()
    return int(seq), str(last)


def _chain_rows_from_before_the_chain(conn: Connection) -> None:
    seq, prev = lock_chain_head(conn)
    old = conn.execute(select(AuditEntry).where(AuditEntry.seq.is_(None))
                       .order_by(AuditEntry.id)).mappings().all()
    for row in old:
        seq += 1
        digest = row_digest(row, prev)
        conn.execute(update(AuditEntry).where(AuditEntry.id == row["id"])
                     .values(seq=seq, prev_hash=prev, row_hash=digest))
        prev = digest
    conn.execute(update(AuditChainHead).where(AuditChainHead.id == 1)
                 .values(seq=seq, row_hash=prev))


def session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)
