"""The forms of a sponsor's page: recording a review decision and the outcome of an
inspection. On a bad form the sponsor's page comes back with the errors (status 422)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

import serving.web.pages.common as common
from serving.audit import audit_row
from serving.db import Review
from serving.reviews import ReviewConflict, add_review, record_outcome
from serving.routes.reviews import outcome_of
from serving.schemas import OutcomeIn, ReviewIn
from serving.web.i18n import translator
from serving.web.pages.sponsor import sponsor_context, sponsor_not_found
from serving.web.session import WebUser, csrf_ok

router = APIRouter(include_in_schema=False)

REVIEW_PAGE = "POST /sponsors/{id}/reviews"
OUTCOME_PAGE = "POST /reviews/{id}/outcome"


def _form_errors(exc: ValidationError) -> list[str]:
    return [f"{'.'.join(str(p) for p in e['loc']) or 'form'}: {e['msg']}" for e in exc.errors()]


@router.post("/sponsors/{sponsor_id}/reviews", response_class=HTMLResponse)
async def post_review(sponsor_id: str, request: Request, user: common.PageUser) -> Response:
    """Record a decision with the same storage and audit row as the API's
    ``POST /v1/sponsors/{id}/reviews``."""
    form = await request.form()
    return await run_in_threadpool(_save_review, sponsor_id, request, user, dict(form))


def _save_review(sponsor_id: str, request: Request, user: WebUser,
                 form: dict[str, Any]) -> Response:
    snapshot = common.serving_state(request).snapshot
    if snapshot is None:
        return common.no_snapshot(request, user)
    row = snapshot.row(sponsor_id)
    t = translator(common.language(request))
    if row is None:
        return sponsor_not_found(request, user, sponsor_id, snapshot)
    errors: list[str] = []
    body = None
    if not csrf_ok(request, form.get("csrf")):
        errors.append(t("form.csrf"))
    else:
        try:
            body = ReviewIn(decision=form.get("decision") or None, note=form.get("note") or "",
                            decided_on=form.get("decided_on") or None)
        except ValidationError as exc:
            errors = _form_errors(exc)
    with Session(request.app.state.engine) as session:
        if body is None:  # the sponsor's page again, with its score: an audit row too
            context = sponsor_context(request, user, snapshot, row, session)
            context.update(errors=errors, form=form)
            common.record_audit(request, user, REVIEW_PAGE, [sponsor_id], snapshot)
            return common.render(request, "sponsor.html", user, 422, **context)
        add_review(session, sponsor_id, body.decision, body.note, user.key_id,
                   body.decided_on or datetime.now(UTC).date(), row["model_version"],
                   float(row["score"]), snapshot.as_of)
    common.record_audit(request, user, REVIEW_PAGE, [sponsor_id], snapshot)
    return RedirectResponse(f"/sponsors/{sponsor_id}?saved=review#reviews", status_code=303)


@router.post("/reviews/{review_id}/outcome", response_class=HTMLResponse)
async def post_outcome(review_id: str, request: Request, user: common.PageUser) -> Response:
    form = await request.form()
    fields = {"csrf": form.get("csrf"), "outcome": form.get("outcome"),
              "closed_on": form.get("closed_on"), "findings": form.getlist("findings"),
              "fine_eur": form.get("fine_eur"), "note": form.get("note")}
    return await run_in_threadpool(_save_outcome, review_id, request, user, fields)


def _save_outcome(review_id: str, request: Request, user: WebUser,
                  form: dict[str, Any]) -> Response:
    t = translator(common.language(request))
    with Session(request.app.state.engine) as session:
        # An id is 36 characters; a longer one names no review (never cut it to fit: a cut
        # id could find a review that the save below, with the whole id, would then miss).
        review = session.get(Review, review_id) if len(review_id) <= 64 else None
        if review is None:
            return common.render(request, "error.html", user, 404,
                                 message=f"no review {review_id[:64]!r}")
        sponsor_id = review.sponsor_id
        replaced = outcome_of(review)
        errors: list[str] = []
        if not csrf_ok(request, form.get("csrf")):
            errors.append(t("form.csrf"))
        else:
            try:
                body = OutcomeIn(outcome=form.get("outcome") or None,
                                 closed_on=form.get("closed_on") or None,
                                 findings=list(form.get("findings") or []),
                                 fine_eur=form.get("fine_eur") or None,
                                 note=form.get("note") or "")
                saved = record_outcome(session, review_id, body.outcome, body.closed_on,
                                       list(body.findings), body.fine_eur, body.note,
                                       user.key_id)
                if saved is None:  # deleted meanwhile: never say "saved" for nothing
                    return common.render(request, "error.html", user, 404,
                                         message=f"no review {review_id[:64]!r}")
            except ValidationError as exc:
                errors = _form_errors(exc)
            except ReviewConflict as exc:
                errors = [str(exc)]
        if not errors:  # the outcome stored, with the score the review saw
            request.app.state.audit.record(audit_row(
                user.key_id, user.role.value, OUTCOME_PAGE, [sponsor_id], review.model_version,
                review.score_as_of, detail={"review_ids": [review_id],
                                            "outcome": outcome_of(review),
                                            "replaced": replaced}))
            return RedirectResponse(f"/sponsors/{sponsor_id}?saved=outcome#reviews",
                                    status_code=303)
        snapshot = common.serving_state(request).snapshot
        row = snapshot.row(sponsor_id) if snapshot is not None else None
        if snapshot is None or row is None:
            return common.render(request, "error.html", user, 422, message="; ".join(errors))
        context = sponsor_context(request, user, snapshot, row, session)
        context.update(errors=errors, form={**form, "review_id": review_id})
        common.record_audit(request, user, OUTCOME_PAGE, [sponsor_id], snapshot)
        return common.render(request, "sponsor.html", user, 422, **context)
