"""The case tables: ``cases`` (the current state of each case, for the queue) and
``case_events`` (the append-only log from which that state came).

A case's row is a projection: every change to it is written together with an event
holding who, what, when, and the state before and after. Events are never updated or
deleted (the ORM refuses to; see :func:`_refuse_change`); a correction is a new event.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    String,
    Text,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column

from serving.db import Base, utc_now

_BIG_ID = BigInteger().with_variant(Integer, "sqlite")

NEW, IN_REVIEW, DISMISSED = "new", "in_review", "dismissed"
INSPECTION_REQUESTED, INSPECTING, CLOSED = "inspection_requested", "inspecting", "closed"
STATUSES = (NEW, IN_REVIEW, DISMISSED, INSPECTION_REQUESTED, INSPECTING, CLOSED)
#: Statuses in which a case waits for someone (the queue's open cases).
OPEN_STATUSES = (NEW, IN_REVIEW, INSPECTION_REQUESTED, INSPECTING)
#: Where a case opened from.
SOURCES = ("ranking", "sponsor", "plan", "review", "case-system")
#: Why a case was dismissed (mandatory on dismissal).
DISMISSAL_REASONS = ("EXPLAINED_BY_RECORDS", "KNOWN_EMPLOYER", "DATA_ERROR",
                     "RECENTLY_INSPECTED", "LOW_PRIORITY", "OTHER")
#: Outcomes a case may close with (the contract's, without OPEN).
CLOSING_OUTCOMES = ("VIOLATION", "NO_VIOLATION", "INCONCLUSIVE")


class Case(Base):
    """One case; its columns are the state the event log has reached."""

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_queue", "status", "due_on"),
        Index("ix_cases_assignee", "assignee", "status", "due_on"),
    )

    case_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    sponsor_id: Mapped[str] = mapped_column(String(16), index=True)
    sponsor_name: Mapped[str] = mapped_column(String(200), default="")
    source: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(24))
    #: The contract's selection: RANDOM only for a plan's random pick.
    selection: Mapped[str] = mapped_column(String(16))
    plan_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    inclusion_probability: Mapped[float | None] = mapped_column(Float, nullable=True)
    model_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    score_as_of: Mapped[date | None] = mapped_column(Date, nullable=True)
    rank: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: Whether the sponsor was in the top decile of its snapshot when the case opened.
    top_decile: Mapped[bool] = mapped_column(Boolean, default=False)
    assignee: Mapped[str | None] = mapped_column(String(16), nullable=True)
    opened_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    #: The day the inspection was requested (the contract's opened_on); None before.
    inspection_opened_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    dismissal_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
    closed_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    #: JSON list of contract FINDINGS.
    findings: Mapped[str | None] = mapped_column(Text, nullable=True)
    fine_eur: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: JSON of a change waiting for a lead's approval (four-eyes), with its proposer.
    pending: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: The contract inspection_id (``CASE-<id>``, or ``REV-<id>`` for a migrated review).
    inspection_id: Mapped[str] = mapped_column(String(48), unique=True)
    #: The review this case was migrated from, if any (makes the migration idempotent).
    review_id: Mapped[str | None] = mapped_column(String(36), nullable=True, unique=True)
    created_by: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(), default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(), default=utc_now)

    def is_overdue(self, today: date) -> bool:
        """Still open past its due date (the queue orders by the same rule in SQL)."""
        return self.due_on < today and self.status in OPEN_STATUSES

    def findings_list(self) -> list[str]:
        return json.loads(self.findings) if self.findings else []

    def pending_change(self) -> dict[str, Any] | None:
        return json.loads(self.pending) if self.pending else None


class CaseEvent(Base):
    """One entry of a case's log: who (key and role) did what, when, before and after."""

    __tablename__ = "case_events"
    __table_args__ = (Index("ix_case_events_case", "case_id", "id"),)

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(String(36))
    at: Mapped[datetime] = mapped_column(DateTime(), default=utc_now)
    actor: Mapped[str] = mapped_column(String(16))
    actor_role: Mapped[str] = mapped_column(String(16))
    #: opened, status, assigned, claimed, released, outcome, approval_requested, approved,
    #: rejected, note, migrated.
    kind: Mapped[str] = mapped_column(String(24))
    #: JSON of the fields that changed, as they were and as they became.
    before: Mapped[str] = mapped_column(Text, default="{}")
    after: Mapped[str] = mapped_column(Text, default="{}")
    note: Mapped[str] = mapped_column(Text, default="")

    def before_dict(self) -> dict[str, Any]:
        return json.loads(self.before or "{}")

    def after_dict(self) -> dict[str, Any]:
        return json.loads(self.after or "{}")


class AppendOnly(RuntimeError):
    """An attempt to change or delete a case event."""


@event.listens_for(CaseEvent, "before_update")
@event.listens_for(CaseEvent, "before_delete")
def _refuse_change(_mapper: Any, _connection: Any, target: CaseEvent) -> None:
    raise AppendOnly(f"case event {target.id} is append-only; write a new event instead")
