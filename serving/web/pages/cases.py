"""The case pages (issue 18): the queue (``/cases``: mine, unassigned, waiting for
approval, all open, finished; overdue first), a plan's picks to open cases from
(``/cases/plan``), and one case (``/cases/{id}``: the sponsor's score, reasons and score
history, the event timeline and the actions the signed-in role may take).

Actions post plain forms (keyboard and screen-reader friendly, no script needed) and go
through the same workflow, role table (``serving.routes.cases.ROUTE_ROLES``) and audit
trail as ``/v1/cases``; a refused action shows the case again with the reason.
"""

from __future__ import annotations

import time
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

import serving.web.pages.common as common
from serving.cases import workflow as wf
from serving.cases.models import (
    CLOSING_OUTCOMES,
    DISMISSAL_REASONS,
    Case,
)
from serving.cases.plans import latest_plan
from serving.cases.queue import VIEWS, queue_page
from serving.cases.service import case_audit_row, ensure_migrated, open_for_sponsor
from serving.keys import Role
from serving.routes.cases import ROUTE_ROLES
from serving.web.charts import Series, time_chart
from serving.web.i18n import translator
from serving.web.pages.sponsor import _reason_rows
from serving.web.session import WebUser, csrf_ok
from sponsorwatch.contract import FINDINGS

router = APIRouter(include_in_schema=False)

ACTIONS = ("claim", "release", "assign", "status", "outcome", "approve", "reject", "note")
PLAN_ROWS = 200


def may(user: WebUser, action: str) -> bool:
    return user.role is Role.ADMIN or user.role in ROUTE_ROLES[action]


def _audit(request: Request, user: WebUser, endpoint: str, cases: list[Case]) -> None:
    if cases:
        request.app.state.audit.record(case_audit_row(user.caller, endpoint, cases))


def _today() -> date:
    return wf.utc_now().date()


@router.get("/cases", response_class=HTMLResponse)
def queue(request: Request, user: common.PageUser, view: str = "", page: int = 1) -> Response:
    started = time.perf_counter()
    ensure_migrated(request.app.state)
    view = view if view in VIEWS else ("mine" if user.role is not Role.LEAD else "unassigned")
    with Session(request.app.state.engine) as session:
        result = queue_page(session, user.key_id, view, _today(), max(1, min(page, 100_000)))
    _audit(request, user, "GET /cases", result.cases)
    response = common.render(request, "cases.html", user, active="cases", result=result,
                             views=VIEWS, today=_today(),
                             may_assign=may(user, "bulk_assign"),
                             may_open=may(user, "open"), errors=[],
                             done=request.query_params.get("done"))
    return common.with_server_timing(response, started)


@router.get("/cases/plan", response_class=HTMLResponse)
def plan_picks_page(request: Request, user: common.PageUser) -> Response:
    latest = latest_plan(request.app.state.settings.home)
    picks: list[dict[str, Any]] = []
    as_of = None
    if latest is not None:
        as_of, frame = latest
        order = "plan_position" if "plan_position" in frame.columns else frame.columns[0]
        picks = frame.sort(order).head(PLAN_ROWS).to_dicts()
        plan_ids = list({str(p.get("plan_id")) for p in picks})
        with Session(request.app.state.engine) as session:
            opened = set(session.scalars(select(Case.sponsor_id).where(
                Case.plan_id.in_(plan_ids))))
        for pick in picks:
            pick["has_case"] = pick["sponsor_id"] in opened
    snapshot = common.serving_state(request).snapshot
    if picks and snapshot is not None:
        common.record_audit(request, user, "GET /cases/plan",
                            [p["sponsor_id"] for p in picks], snapshot)
    return common.render(request, "case_plan.html", user, active="cases", picks=picks,
                         as_of=as_of, may_open=may(user, "open"))


@router.post("/cases", response_class=HTMLResponse)
async def open_from_form(request: Request, user: common.PageUser) -> Response:
    form = dict(await request.form())
    return await run_in_threadpool(_open, request, user, form)


def _open(request: Request, user: WebUser, form: dict[str, Any]) -> Response:
    t = translator(common.language(request))
    if not csrf_ok(request, form.get("csrf")):
        return common.render(request, "error.html", user, 403, message=t("form.csrf"))
    if not may(user, "open"):
        return common.render(request, "error.html", user, 403, message=t("cases.forbidden"))
    source = str(form.get("source") or "sponsor")
    sponsor_id = str(form.get("sponsor_id") or "")[:16]
    with Session(request.app.state.engine) as session:
        try:
            case = open_for_sponsor(session, request.app.state.settings,
                                    common.serving_state(request).snapshot, user.caller,
                                    sponsor_id, source, str(form.get("plan_id") or "") or None,
                                    note=str(form.get("note") or "")[:5000])
        except wf.CaseError as exc:
            return common.render(request, "error.html", user, exc.status, message=str(exc))
        _audit(request, user, "POST /cases", [case])
        return RedirectResponse(f"/cases/{case.case_id}?done=opened", status_code=303)


def case_context(request: Request, user: WebUser, session: Session,
                 case: Case) -> dict[str, Any]:
    lang = common.language(request)
    t, fmt = translator(lang), common.Formats(lang)
    snapshot = common.serving_state(request).snapshot
    row = snapshot.row(case.sponsor_id) if snapshot is not None else None
    reasons, history_svg, history = [], None, []
    if row is not None and snapshot is not None:
        reasons = _reason_rows(row, common.ranking_view(request, snapshot), fmt)
        history = snapshot.history_of(case.sponsor_id)
        history_svg = time_chart(
            "history", t("sponsor.history"), t("sponsor.history_desc"),
            [Series(t("col.score"), [(h["as_of"], float(h["score"])) for h in history],
                    "series-0", "line")], y_format=fmt.score, y_min=0)
    pending = case.pending_change()
    return {"active": "cases", "case": case, "row": row, "reasons": reasons,
            "history": history, "history_svg": history_svg,
            "events": wf.events_of(session, case.case_id), "pending": pending,
            "findings": FINDINGS, "outcomes": CLOSING_OUTCOMES, "reasons_codes":
            DISMISSAL_REASONS, "next_statuses": wf.TRANSITIONS.get(case.status, ()),
            "mine": case.assignee == user.key_id, "is_lead": may(user, "approve"),
            "own_pending": bool(pending and pending["by"] == user.key_id),
            "overdue": case.is_overdue(_today()),
            "today": _today(), "done": request.query_params.get("done"), "errors": []}


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(case_id: str, request: Request, user: common.PageUser) -> Response:
    started = time.perf_counter()
    ensure_migrated(request.app.state)
    with Session(request.app.state.engine) as session:
        try:
            case = wf.get_case(session, case_id)
        except wf.CaseError as exc:
            return common.render(request, "error.html", user, exc.status, message=str(exc))
        _audit(request, user, "GET /cases/{id}", [case])
        context = case_context(request, user, session, case)
    return common.with_server_timing(
        common.render(request, "case.html", user, **context), started)


@router.post("/cases/{case_id}/{action}", response_class=HTMLResponse)
async def case_action(case_id: str, action: str, request: Request,
                      user: common.PageUser) -> Response:
    form = await request.form()
    fields = {k: form.get(k) for k in form if k != "findings"}
    fields["findings"] = form.getlist("findings")
    fields["case_ids"] = form.getlist("case_ids")
    return await run_in_threadpool(_act, request, user, case_id, action, fields)


def _act(request: Request, user: WebUser, case_id: str, action: str,
         form: dict[str, Any]) -> Response:
    t = translator(common.language(request))
    settings = request.app.state.settings
    bulk = case_id == "bulk" and action == "assign"
    if action not in ACTIONS:
        return common.render(request, "error.html", user, 404, message=t("cases.not_found"))
    if not csrf_ok(request, form.get("csrf")):
        return common.render(request, "error.html", user, 403, message=t("form.csrf"))
    if not may(user, "bulk_assign" if bulk else action):
        return common.render(request, "error.html", user, 403, message=t("cases.forbidden"))
    note = str(form.get("note") or "")[:5000]
    me = user.caller
    with Session(request.app.state.engine) as session:
        try:
            if bulk:
                cases = wf.assign(session, settings, me, [str(c) for c in form["case_ids"]],
                                  str(form.get("assignee") or "").strip()[:16], note)
                _audit(request, user, "POST /cases/bulk/assign", cases)
                return RedirectResponse("/cases?view=unassigned&done=assigned",
                                        status_code=303)
            _run(session, settings, me, case_id, action, form, note)
        except (wf.CaseError, ValueError) as exc:
            session.rollback()
            status_code = getattr(exc, "status", 422)
            if bulk:
                return common.render(request, "error.html", user, status_code,
                                     message=str(exc))
            try:
                case = wf.get_case(session, case_id)
            except wf.CaseError as missing:
                return common.render(request, "error.html", user, 404, message=str(missing))
            _audit(request, user, f"POST /cases/{{id}}/{action} refused {status_code}", [case])
            context = case_context(request, user, session, case)
            context["errors"] = [str(exc)]
            return common.render(request, "case.html", user, status_code, **context)
        case = wf.get_case(session, case_id)
        _audit(request, user, f"POST /cases/{{id}}/{action}", [case])
    return RedirectResponse(f"/cases/{case_id}?done={action}#timeline", status_code=303)


def _run(session: Session, settings: Any, me: Any, case_id: str, action: str,
         form: dict[str, Any], note: str) -> None:
    if action == "claim":
        wf.claim(session, settings, me, case_id)
    elif action == "release":
        wf.release(session, settings, me, case_id)
    elif action == "assign":
        wf.assign(session, settings, me, [case_id],
                  str(form.get("assignee") or "").strip()[:16], note)
    elif action == "status":
        wf.transition(session, settings, me, case_id, str(form.get("status") or ""),
                      str(form.get("reason") or "") or None, note)
    elif action == "outcome":
        closed = str(form.get("closed_on") or "")
        fine = str(form.get("fine_eur") or "").replace(",", ".")
        wf.record_outcome(session, settings, me, case_id, str(form.get("outcome") or ""),
                          date.fromisoformat(closed) if closed else None,
                          [str(f) for f in form.get("findings") or []],
                          float(fine) if fine else None, note)
    elif action == "approve":
        wf.approve(session, settings, me, case_id, note)
    elif action == "reject":
        wf.reject(session, settings, me, case_id, note)
    else:
        wf.add_note(session, me, case_id, note)
