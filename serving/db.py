"""The service database: API keys, analyst reviews and the audit trail.

SQLite under the home by default (``service.db``), PostgreSQL through
``SPONSORWATCH_DATABASE_URL``. Tables are created on start-up (``create_schema``); the
schema is small and additive, so no migration tool is needed yet.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    BigInteger,
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
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

#: SQLite only auto-increments an ``INTEGER PRIMARY KEY``; PostgreSQL gets a BIGINT.
_BIG_ID = BigInteger().with_variant(Integer, "sqlite")


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
    key_id: Mapped[str] = mapped_column(String(16))
    role: Mapped[str] = mapped_column(String(16))
    endpoint: Mapped[str] = mapped_column(String(200))
    #: JSON list of the sponsor ids revealed by the response.
    sponsor_ids: Mapped[str] = mapped_column(Text)
    sponsor_count: Mapped[int] = mapped_column(Integer)
    model_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    score_as_of: Mapped[date | None] = mapped_column(Date, nullable=True)


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
    """Create the service tables where missing."""
    Base.metadata.create_all(engine)


def session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)
