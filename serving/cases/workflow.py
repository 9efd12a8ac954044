"""The case state machine, assignment and four-eyes approval.

Statuses::

    new -> in_review -> dismissed (reason code)
    new | in_review -> inspection_requested -> inspecting -> closed (outcome, findings)

A closed case takes corrections of its outcome (each a new event). Two changes need a
second person with the lead role before they apply: closing with VIOLATION (also as a
correction) and dismissing a sponsor that was in the top decile when the case opened.
Such a change waits in ``Case.pending``; a lead other than its proposer approves or
rejects it (the proposer approving it is refused, :class:`CaseForbidden`, HTTP 403).

Every change writes one :class:`CaseEvent` holding the fields it changed, before and
after, in the same transaction as the case row, so the row is always what the log says.
"""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from serving.cases.models import (
    CLOSED,
    CLOSING_OUTCOMES,
    DISMISSAL_REASONS,
    DISMISSED,
    IN_REVIEW,
    INSPECTING,
    INSPECTION_REQUESTED,
    NEW,
    OPEN_STATUSES,
    SOURCES,
    Case,
    CaseEvent,
)
from serving.db import utc_now
from serving.keys import Caller, Role
from sponsorwatch.contract import FINDINGS, SELECTIONS
from sponsorwatch.settings import Settings

#: Roles that work cases (claim, review, request inspections).
WORKERS = (Role.ANALYST, Role.LEAD, Role.ADMIN)
#: Roles that assign cases and give the second approval.
LEADS = (Role.LEAD, Role.ADMIN)
#: Status changes a worker may make by hand (closing goes through an outcome).
TRANSITIONS: dict[str, tuple[str, ...]] = {
    NEW: (IN_REVIEW, DISMISSED, INSPECTION_REQUESTED),
    IN_REVIEW: (DISMISSED, INSPECTION_REQUESTED),
    INSPECTION_REQUESTED: (INSPECTING,),
}


class CaseError(ValueError):
    """A refused change; ``status`` is the HTTP answer."""

    status = 409


class CaseNotFound(CaseError):
    status = 404


class CaseForbidden(CaseError):
    status = 403


class CaseConflict(CaseError):
    status = 409


class CaseInvalid(CaseError):
    status = 422


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else value


def _log(session: Session, case: Case, actor: Caller, kind: str,
         before: dict[str, Any] | None = None, after: dict[str, Any] | None = None,
         note: str = "") -> CaseEvent:
    entry = CaseEvent(case_id=case.case_id, at=utc_now(), actor=actor.key_id,
                      actor_role=actor.role.value, kind=kind,
                      before=json.dumps({k: _plain(v) for k, v in (before or {}).items()}),
                      after=json.dumps({k: _plain(v) for k, v in (after or {}).items()}),
                      note=note or "")
    session.add(entry)
    return entry


def _change(session: Session, case: Case, actor: Caller, kind: str, note: str = "",
            extra: dict[str, Any] | None = None, **fields: Any) -> CaseEvent:
    """Set ``fields`` on the case and log them, before and after, as one event (``extra``
    is logged with the after state without being a field of the case)."""
    before = {k: getattr(case, k) for k in fields}
    for key, value in fields.items():
        setattr(case, key, value)
    case.updated_at = utc_now()
    return _log(session, case, actor, kind, before, {**fields, **(extra or {})}, note)


def get_case(session: Session, case_id: str, *, for_update: bool = False) -> Case:
    if len(case_id) > 36:
        raise CaseNotFound(f"no case {case_id[:36]!r}")
    stmt = select(Case).where(Case.case_id == case_id)
    if for_update:
        stmt = stmt.with_for_update()
    case = session.scalar(stmt)
    if case is None:
        raise CaseNotFound(f"no case {case_id!r}")
    return case


def events_of(session: Session, case_id: str) -> list[CaseEvent]:
    return list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id)
                                .order_by(CaseEvent.id)))


def _today(today: date | None) -> date:
    return today or utc_now().date()


def open_case(session: Session, settings: Settings, actor: Caller, sponsor_id: str,
              source: str, *, snapshot_row: dict[str, Any] | None = None,
              top_decile: bool = False, pick: dict[str, Any] | None = None,
              selection: str = "RISK_BASED", note: str = "", today: date | None = None,
              commit: bool = True) -> Case:
    """Open a case on a sponsor. ``pick`` (a plan's row) brings its ``plan_id``,
    ``selection`` and ``inclusion_probability``; otherwise ``selection`` stands (RANDOM
    only comes from a plan).

    Raises:
        CaseInvalid: for an unknown source or selection, or RANDOM without a plan.
        CaseConflict: when the sponsor already has an open case.
    """
    if source not in SOURCES:
        raise CaseInvalid(f"source must be one of {SOURCES}, not {source!r}")
    if pick is not None:
        selection = pick["selection"]
    if selection not in SELECTIONS or (selection == "RANDOM" and pick is None):
        raise CaseInvalid(f"selection {selection!r}: RANDOM comes only with a plan's pick; "
                          f"otherwise one of {[s for s in SELECTIONS if s != 'RANDOM']}")
    already = session.scalar(select(Case.case_id).where(
        Case.sponsor_id == sponsor_id, Case.status.in_(OPEN_STATUSES)).limit(1))
    if already is not None:
        raise CaseConflict(f"sponsor {sponsor_id} already has open case {already}")
    day = _today(today)
    row = snapshot_row or {}
    case_id = str(uuid.uuid4())
    case = Case(case_id=case_id, sponsor_id=sponsor_id, sponsor_name=str(row.get("name") or ""),
                source=source, status=NEW, selection=selection,
                plan_id=pick["plan_id"] if pick else None,
                inclusion_probability=(float(pick["inclusion_probability"]) if pick else None),
                model_version=(str(row["model_version"]) if row.get("model_version") else None),
                score=float(row["score"]) if row.get("score") is not None else None,
                score_as_of=row.get("as_of"), rank=row.get("rank"), top_decile=top_decile,
                opened_on=day, due_on=day + timedelta(days=settings.case_review_days),
                inspection_id=f"CASE-{case_id}", created_by=actor.key_id,
                created_at=utc_now(), updated_at=utc_now())
    session.add(case)
    _log(session, case, actor, "opened", {}, {
        "status": NEW, "source": source, "selection": selection, "plan_id": case.plan_id,
        "inclusion_probability": case.inclusion_probability, "due_on": case.due_on}, note)
    if commit:
        session.commit()
    return case


def open_count(session: Session, assignee: str) -> int:
    return session.scalar(select(func.count()).select_from(Case).where(
        Case.assignee == assignee, Case.status.in_(OPEN_STATUSES))) or 0


def _within_cap(session: Session, settings: Settings, assignee: str, adding: int) -> None:
    held = open_count(session, assignee)
    if held + adding > settings.case_analyst_cap:
        raise CaseConflict(f"{assignee} holds {held} open cases; {adding} more would pass "
                           f"the cap of {settings.case_analyst_cap}")


def _may_work(case: Case, actor: Caller) -> None:
    if actor.role in LEADS:
        return
    if actor.role is not Role.ANALYST:
        raise CaseForbidden(f"role {actor.role.value!r} may not work cases")
    if case.assignee != actor.key_id:
        raise CaseForbidden(f"case {case.case_id} is not assigned to {actor.key_id}; "
                            "claim it first")


def _not_pending(case: Case) -> None:
    if case.pending:
        raise CaseConflict(f"case {case.case_id} waits for a lead's approval")


def claim(session: Session, settings: Settings, actor: Caller, case_id: str) -> Case:
    """Take a case: an unassigned one becomes the actor's (within the cap); a new case
    assigned to the actor goes into review."""
    if actor.role not in WORKERS:
        raise CaseForbidden(f"role {actor.role.value!r} may not claim cases")
    case = get_case(session, case_id, for_update=True)
    if case.status not in OPEN_STATUSES:
        raise CaseConflict(f"case {case_id} is {case.status}")
    if case.assignee not in (None, actor.key_id):
        raise CaseConflict(f"case {case_id} is assigned to {case.assignee}")
    fields: dict[str, Any] = {}
    if case.assignee is None:
        _within_cap(session, settings, actor.key_id, 1)
        fields["assignee"] = actor.key_id
    if case.status == NEW:
        fields["status"] = IN_REVIEW
    if not fields:
        raise CaseConflict(f"case {case_id} is already yours and {case.status}")
    _change(session, case, actor, "claimed", **fields)
    session.commit()
    return case


def release(session: Session, settings: Settings, actor: Caller, case_id: str) -> Case:
    """Give a case back to the queue (its assignee, or a lead); in review goes back to new."""
    case = get_case(session, case_id, for_update=True)
    if case.assignee is None:
        raise CaseConflict(f"case {case_id} is not assigned")
    if actor.role not in LEADS and case.assignee != actor.key_id:
        raise CaseForbidden(f"case {case_id} is not assigned to {actor.key_id}")
    fields: dict[str, Any] = {"assignee": None}
    if case.status == IN_REVIEW:
        fields["status"] = NEW
    _change(session, case, actor, "released", **fields)
    session.commit()
    return case


def assign(session: Session, settings: Settings, actor: Caller, case_ids: list[str],
           assignee: str, note: str = "") -> list[Case]:
    """A lead assigns one or more open cases to ``assignee``, all or none, within the cap."""
    if actor.role not in LEADS:
        raise CaseForbidden(f"role {actor.role.value!r} may not assign cases; needs 'lead'")
    if not case_ids:
        raise CaseInvalid("no case to assign")
    cases = [get_case(session, c, for_update=True) for c in dict.fromkeys(case_ids)]
    closed = [c.case_id for c in cases if c.status not in OPEN_STATUSES]
    if closed:
        raise CaseConflict(f"case(s) {closed} are no longer open")
    moving = [c for c in cases if c.assignee != assignee]
    _within_cap(session, settings, assignee, len(moving))
    for case in moving:
        _change(session, case, actor, "assigned", note, assignee=assignee)
    session.commit()
    return cases


def transition(session: Session, settings: Settings, actor: Caller, case_id: str,
               to_status: str, reason: str | None = None, note: str = "",
               today: date | None = None) -> Case:
    """Move a case along :data:`TRANSITIONS`; a dismissal needs a reason code, and of a
    top-decile sponsor it waits for a lead's approval."""
    case = get_case(session, case_id, for_update=True)
    if actor.role is Role.CASE_SYSTEM and (case.status, to_status) == (
            INSPECTION_REQUESTED, INSPECTING):
        pass  # the inspection service says the inspection started
    else:
        _may_work(case, actor)
    _not_pending(case)
    if to_status not in TRANSITIONS.get(case.status, ()):
        raise CaseConflict(f"case {case_id} cannot go from {case.status} to {to_status}")
    day = _today(today)
    if to_status == DISMISSED:
        if reason not in DISMISSAL_REASONS:
            raise CaseInvalid(f"a dismissal needs a reason, one of {DISMISSAL_REASONS}")
        change = {"status": DISMISSED, "dismissal_reason": reason}
        if case.top_decile:
            return _propose(session, settings, actor, case, change, note, day)
        _change(session, case, actor, "status", note, **change)
    elif to_status == INSPECTION_REQUESTED:
        _change(session, case, actor, "status", note, status=to_status,
                inspection_opened_on=day,
                due_on=day + timedelta(days=settings.case_inspection_days))
    else:
        _change(session, case, actor, "status", note, status=to_status)
    session.commit()
    return case


def record_outcome(session: Session, settings: Settings, actor: Caller, case_id: str,
                   outcome: str, closed_on: date | None, findings: list[str],
                   fine_eur: float | None, note: str = "", today: date | None = None) -> Case:
    """Close an inspecting case with an outcome, or correct a closed one's (a new event,
    the earlier ones kept). VIOLATION waits for a lead's approval."""
    case = get_case(session, case_id, for_update=True)
    if actor.role is not Role.CASE_SYSTEM:
        _may_work(case, actor)
    _not_pending(case)
    if case.status not in (INSPECTING, CLOSED):
        raise CaseConflict(f"case {case_id} is {case.status}; an outcome needs an inspection "
                           "under way (inspecting) or a closed case to correct")
    if outcome not in CLOSING_OUTCOMES:
        raise CaseInvalid(f"outcome must be one of {CLOSING_OUTCOMES}")
    bad = [f for f in findings if f not in FINDINGS]
    if bad:
        raise CaseInvalid(f"unknown findings {bad}; use {FINDINGS}")
    if fine_eur is not None and fine_eur < 0:
        raise CaseInvalid("fine_eur must be at least 0")
    day = _today(today)
    closed_on = closed_on or day
    opened = case.inspection_opened_on or case.opened_on
    if closed_on < opened or closed_on > day:
        raise CaseInvalid(f"closed_on {closed_on} must be between the inspection's opening "
                          f"{opened} and today {day}")
    change = {"status": CLOSED, "outcome": outcome, "closed_on": closed_on,
              "findings": json.dumps(sorted(set(findings))) if findings else None,
              "fine_eur": fine_eur}
    if outcome == "VIOLATION":
        return _propose(session, settings, actor, case, change, note, day)
    _change(session, case, actor, "outcome", note, **change)
    session.commit()
    return case


def _propose(session: Session, settings: Settings, actor: Caller, case: Case,
             change: dict[str, Any], note: str, day: date) -> Case:
    pending = {"by": actor.key_id, "role": actor.role.value, "note": note,
               "change": {k: _plain(v) for k, v in change.items()},
               "due_before": _plain(case.due_on)}
    _change(session, case, actor, "approval_requested", note, pending=json.dumps(pending),
            due_on=day + timedelta(days=settings.case_approval_days))
    session.commit()
    return case


def _decide(session: Session, actor: Caller, case_id: str) -> tuple[Case, dict[str, Any]]:
    if actor.role not in LEADS:
        raise CaseForbidden(f"role {actor.role.value!r} may not approve; needs 'lead'")
    case = get_case(session, case_id, for_update=True)
    pending = case.pending_change()
    if pending is None:
        raise CaseConflict(f"case {case_id} has nothing waiting for approval")
    if pending["by"] == actor.key_id:
        raise CaseForbidden("nobody approves their own change: a second lead must decide")
    return case, pending


def _restore(value: str | None, key: str) -> Any:
    return date.fromisoformat(value) if value and key in ("closed_on", "due_on") else value


def approve(session: Session, settings: Settings, actor: Caller, case_id: str,
            note: str = "") -> Case:
    """A second person with the lead role applies the waiting change."""
    case, pending = _decide(session, actor, case_id)
    change = {k: _restore(v, k) for k, v in pending["change"].items()}
    _change(session, case, actor, "approved", note, pending=None)
    kind = "outcome" if "outcome" in change else "status"
    proposer = Caller(pending["by"], Role(pending["role"]))
    _change(session, case, proposer, kind, pending.get("note", ""),
            extra={"approved_by": actor.key_id}, **change)
    if case.status == DISMISSED:
        case.due_on = _restore(pending.get("due_before"), "due_on") or case.due_on
    session.commit()
    return case


def reject(session: Session, settings: Settings, actor: Caller, case_id: str,
           note: str = "") -> Case:
    """A second lead turns the waiting change down; the case goes on as before."""
    case, pending = _decide(session, actor, case_id)
    _change(session, case, actor, "rejected", note, pending=None,
            due_on=_restore(pending.get("due_before"), "due_on") or case.due_on)
    session.commit()
    return case


def add_note(session: Session, actor: Caller, case_id: str, note: str) -> CaseEvent:
    if not note.strip():
        raise CaseInvalid("a note needs text")
    case = get_case(session, case_id)
    entry = _log(session, case, actor, "note", note=note)
    case.updated_at = utc_now()
    session.commit()
    return entry
