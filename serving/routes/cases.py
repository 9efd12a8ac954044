"""``/v1/cases``: the case queue for case systems and for the pages' actions (issue 18).

Every route names the roles that may call it (:data:`ROUTE_ROLES`; admin may call every
route) and every response that shows a case writes the sponsor to the audit trail.
The workflow's refusals keep their HTTP meaning: 403 (not yours, wrong role, approving
one's own change), 404, 409 (state does not allow it), 422 (bad values).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

import serving.cases.models  # noqa: F401 - registers the case tables with create_schema
from serving.cases import workflow
from serving.cases.migrate import migrate_reviews
from serving.cases.models import CLOSING_OUTCOMES, DISMISSAL_REASONS, SOURCES, Case, CaseEvent
from serving.cases.queue import VIEWS, queue_page
from serving.cases.service import case_audit_row, ensure_migrated, open_for_sponsor
from serving.db import utc_now
from serving.deps import AUTH_RESPONSES, DbSession, current_caller
from serving.keys import Caller, Role
from serving.schemas import ErrorOut, Finding, PastDay, SponsorId, UtcDateTime

router = APIRouter(prefix="/v1/cases", tags=["cases"], responses={
    **AUTH_RESPONSES,
    404: {"model": ErrorOut, "description": "Unknown case or sponsor"},
    409: {"model": ErrorOut, "description": "The case's status does not allow the change"},
})

A, L, C = Role.ANALYST, Role.LEAD, Role.CASE_SYSTEM
#: Who may call each route (admin may call all of them).
ROUTE_ROLES: dict[str, tuple[Role, ...]] = {
    "list": (A, L, C), "open": (A, L, C), "get": (A, L, C), "events": (A, L, C),
    "note": (A, L, C), "claim": (A, L), "release": (A, L), "status": (A, L, C),
    "outcome": (A, L, C), "assign": (L,), "bulk_assign": (L,), "approve": (L,),
    "reject": (L,), "migrate": (),
}


def allow(name: str):  # noqa: ANN201 - FastAPI dependency
    roles = ROUTE_ROLES[name]

    async def check(request: Request, caller: Annotated[Caller, Depends(current_caller)]
                    ) -> Caller:
        if caller.role is not Role.ADMIN and caller.role not in roles:
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                f"role {caller.role.value!r} may not do this; needs one of "
                                f"{[r.value for r in (*roles, Role.ADMIN)]}")
        if not getattr(request.app.state, "cases_migrated", False):
            await run_in_threadpool(ensure_migrated, request.app.state)
        return caller

    return Depends(check)


ListKey = Annotated[Caller, allow("list")]
OpenKey = Annotated[Caller, allow("open")]
GetKey = Annotated[Caller, allow("get")]
EventsKey = Annotated[Caller, allow("events")]
NoteKey = Annotated[Caller, allow("note")]
ClaimKey = Annotated[Caller, allow("claim")]
ReleaseKey = Annotated[Caller, allow("release")]
StatusKey = Annotated[Caller, allow("status")]
OutcomeKey = Annotated[Caller, allow("outcome")]
AssignKey = Annotated[Caller, allow("assign")]
BulkAssignKey = Annotated[Caller, allow("bulk_assign")]
ApproveKey = Annotated[Caller, allow("approve")]
RejectKey = Annotated[Caller, allow("reject")]
MigrateKey = Annotated[Caller, allow("migrate")]


class CaseOut(BaseModel):
    case_id: str
    sponsor_id: str
    sponsor_name: str
    source: str
    status: str
    selection: str
    plan_id: str | None
    inclusion_probability: float | None
    model_version: str | None
    score: float | None
    score_as_of: date | None
    rank: int | None
    top_decile: bool
    assignee: str | None
    opened_on: date
    due_on: date
    overdue: bool
    inspection_id: str
    inspection_opened_on: date | None
    dismissal_reason: str | None
    outcome: str | None
    closed_on: date | None
    findings: list[str]
    fine_eur: float | None
    pending: dict[str, Any] | None


class EventOut(BaseModel):
    id: int
    at: UtcDateTime
    actor: str
    actor_role: str
    kind: str
    before: dict[str, Any]
    after: dict[str, Any]
    note: str


class CaseDetail(CaseOut):
    events: list[EventOut]


class QueueOut(BaseModel):
    view: str
    page: int
    pages: int
    total: int
    overdue: int
    counts: dict[str, int]
    cases: list[CaseOut]


class OpenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sponsor_id: SponsorId
    source: Literal[SOURCES] = "ranking"  # type: ignore[valid-type]
    plan_id: str | None = Field(None, max_length=64)
    selection: Literal["RISK_BASED", "TIP", "OTHER"] = "RISK_BASED"
    note: str = Field("", max_length=5000)


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field("", max_length=5000)


class AssignIn(NoteIn):
    assignee: str = Field(min_length=1, max_length=16)


class BulkAssignIn(AssignIn):
    case_ids: list[str] = Field(min_length=1, max_length=500)


class StatusIn(NoteIn):
    status: Literal["in_review", "dismissed", "inspection_requested", "inspecting"]
    reason: Literal[DISMISSAL_REASONS] | None = None  # type: ignore[valid-type]


class CaseOutcomeIn(NoteIn):
    outcome: Literal[CLOSING_OUTCOMES]  # type: ignore[valid-type]
    closed_on: PastDay | None = None
    findings: list[Finding] = Field(default_factory=list, max_length=10)
    fine_eur: float | None = Field(None, ge=0, le=1e9)


def case_out(case: Case, today: date | None = None) -> CaseOut:
    today = today or utc_now().date()
    fields = {k: getattr(case, k) for k in CaseOut.model_fields
              if k not in ("overdue", "findings", "pending")}
    return CaseOut(**fields, findings=case.findings_list(), pending=case.pending_change(),
                   overdue=case.is_overdue(today))


def event_out(event: CaseEvent) -> EventOut:
    return EventOut(id=event.id, at=event.at, actor=event.actor, actor_role=event.actor_role,
                    kind=event.kind, before=event.before_dict(), after=event.after_dict(),
                    note=event.note)


def _refused(exc: workflow.CaseError) -> HTTPException:
    if exc.status == 422:
        # In the shape of every other 422 (the OpenAPI document promises a list of problems).
        return HTTPException(exc.status, [{"type": "value_error", "loc": ["body"],
                                           "msg": str(exc)[:300]}])
    return HTTPException(exc.status, str(exc))


def _case_or_refused(session: Session, case_id: str) -> Case:
    try:
        return workflow.get_case(session, case_id)
    except workflow.CaseError as exc:
        raise _refused(exc) from exc


def _detail(session: Session, case: Case) -> CaseDetail:
    return CaseDetail(**case_out(case).model_dump(),
                      events=[event_out(e) for e in workflow.events_of(session, case.case_id)])


def _audited(request: Request, caller: Caller, endpoint: str, cases: list[Case]) -> None:
    request.app.state.audit.record(case_audit_row(caller, endpoint, cases))


@router.get("", response_model=QueueOut)
def list_cases(request: Request, session: DbSession, caller: ListKey,
               view: Literal[VIEWS] = "open",  # type: ignore[valid-type]
               page: Annotated[int, Query(ge=1, le=100_000)] = 1,
               sponsor_id: Annotated[str | None, Query(pattern=r"^[0-9]{8}$")] = None
               ) -> QueueOut:
    """A view of the queue (mine, unassigned, approvals, open, finished), overdue first."""
    result = queue_page(session, caller.key_id, view, utc_now().date(), page,
                        sponsor=sponsor_id)
    _audited(request, caller, "GET /v1/cases", result.cases)
    return QueueOut(view=result.view, page=result.page, pages=result.pages,
                    total=result.total, overdue=result.overdue, counts=result.counts,
                    cases=[case_out(c) for c in result.cases])


@router.post("", response_model=CaseDetail, status_code=status.HTTP_201_CREATED)
def create_case(body: OpenIn, request: Request, session: DbSession,
                caller: OpenKey) -> CaseDetail:
    """Open a case on a ranked sponsor: from the ranking, a sponsor page, a case system,
    or a plan's pick (``source: plan``; the plan gives selection and probability)."""
    try:
        case = open_for_sponsor(session, request.app.state.settings,
                                request.app.state.serving.snapshot, caller, body.sponsor_id,
                                body.source, body.plan_id, body.selection, body.note)
    except workflow.CaseError as exc:
        raise _refused(exc) from exc
    _audited(request, caller, "POST /v1/cases", [case])
    return _detail(session, case)


@router.post("/bulk-assign", response_model=list[CaseOut])
def bulk_assign(body: BulkAssignIn, request: Request, session: DbSession,
                caller: BulkAssignKey) -> list[CaseOut]:
    """A lead assigns several cases to one analyst, all or none (within the cap)."""
    try:
        cases = workflow.assign(session, request.app.state.settings, caller, body.case_ids,
                                body.assignee, body.note)
    except workflow.CaseError as exc:
        raise _refused(exc) from exc
    _audited(request, caller, "POST /v1/cases/bulk-assign", cases)
    return [case_out(c) for c in cases]


@router.post("/migrate")
def migrate(request: Request, session: DbSession,
            caller: MigrateKey) -> dict[str, int]:
    """Turn reviews without a case into cases (idempotent)."""
    return {"migrated": migrate_reviews(session, request.app.state.settings)}


@router.get("/{case_id}", response_model=CaseDetail)
def get_case(case_id: str, request: Request, session: DbSession,
             caller: GetKey) -> CaseDetail:
    case = _case_or_refused(session, case_id)
    _audited(request, caller, "GET /v1/cases/{id}", [case])
    return _detail(session, case)


@router.get("/{case_id}/events", response_model=list[EventOut])
def case_events(case_id: str, request: Request, session: DbSession,
                caller: EventsKey) -> list[EventOut]:
    """The case's log, oldest first (append-only)."""
    case = _case_or_refused(session, case_id)
    _audited(request, caller, "GET /v1/cases/{id}/events", [case])
    return [event_out(e) for e in workflow.events_of(session, case_id)]


def _act(request: Request, session: Session, caller: Caller, case_id: str, endpoint: str,
         action: Any) -> CaseDetail:
    try:
        action()
        case = workflow.get_case(session, case_id)
    except workflow.CaseError as exc:
        session.rollback()
        refused = session.get(Case, case_id) if len(case_id) <= 36 else None
        if refused is not None:  # a refused attempt on a case is an access too
            _audited(request, caller, f"{endpoint} refused {exc.status}", [refused])
        raise _refused(exc) from exc
    _audited(request, caller, endpoint, [case])
    return _detail(session, case)


@router.post("/{case_id}/notes", response_model=CaseDetail)
def add_note(case_id: str, body: NoteIn, request: Request, session: DbSession,
             caller: NoteKey) -> CaseDetail:
    return _act(request, session, caller, case_id, "POST /v1/cases/{id}/notes",
                lambda: workflow.add_note(session, caller, case_id, body.note))


@router.post("/{case_id}/claim", response_model=CaseDetail)
def claim(case_id: str, request: Request, session: DbSession,
          caller: ClaimKey) -> CaseDetail:
    return _act(request, session, caller, case_id, "POST /v1/cases/{id}/claim",
                lambda: workflow.claim(session, request.app.state.settings, caller, case_id))


@router.post("/{case_id}/release", response_model=CaseDetail)
def release(case_id: str, request: Request, session: DbSession,
            caller: ReleaseKey) -> CaseDetail:
    return _act(request, session, caller, case_id, "POST /v1/cases/{id}/release",
                lambda: workflow.release(session, request.app.state.settings, caller,
                                         case_id))


@router.post("/{case_id}/assign", response_model=CaseDetail)
def assign(case_id: str, body: AssignIn, request: Request, session: DbSession,
           caller: AssignKey) -> CaseDetail:
    return _act(request, session, caller, case_id, "POST /v1/cases/{id}/assign",
                lambda: workflow.assign(session, request.app.state.settings, caller,
                                        [case_id], body.assignee, body.note))


@router.post("/{case_id}/status", response_model=CaseDetail)
def change_status(case_id: str, body: StatusIn, request: Request, session: DbSession,
                  caller: StatusKey) -> CaseDetail:
    """Move the case on; a dismissal needs ``reason``, and waits for a lead when the
    sponsor was in the top decile."""
    return _act(request, session, caller, case_id, "POST /v1/cases/{id}/status",
                lambda: workflow.transition(session, request.app.state.settings, caller,
                                            case_id, body.status, body.reason, body.note))


@router.post("/{case_id}/outcome", response_model=CaseDetail)
def record_outcome(case_id: str, body: CaseOutcomeIn, request: Request, session: DbSession,
                   caller: OutcomeKey) -> CaseDetail:
    """Close the inspection, or correct its outcome (a new version); VIOLATION waits for
    a second person with the lead role."""
    return _act(request, session, caller, case_id, "POST /v1/cases/{id}/outcome",
                lambda: workflow.record_outcome(
                    session, request.app.state.settings, caller, case_id, body.outcome,
                    body.closed_on, list(body.findings), body.fine_eur, body.note))


@router.post("/{case_id}/approve", response_model=CaseDetail,
             responses={403: {"description": "Not a lead, or approving one's own change"}})
def approve(case_id: str, body: NoteIn, request: Request, session: DbSession,
            caller: ApproveKey) -> CaseDetail:
    return _act(request, session, caller, case_id, "POST /v1/cases/{id}/approve",
                lambda: workflow.approve(session, request.app.state.settings, caller,
                                         case_id, body.note))


@router.post("/{case_id}/reject", response_model=CaseDetail)
def reject(case_id: str, body: NoteIn, request: Request, session: DbSession,
           caller: RejectKey) -> CaseDetail:
    return _act(request, session, caller, case_id, "POST /v1/cases/{id}/reject",
                lambda: workflow.reject(session, request.app.state.settings, caller,
                                        case_id, body.note))
