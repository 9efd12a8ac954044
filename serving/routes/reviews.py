"""Analysts' decisions on sponsors and the outcomes of the inspections they open."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Path, status

from serving.audit import AuditWriter, audit_row
from serving.db import Review
from serving.deps import (
    AUTH_RESPONSES,
    AnalystKey,
    AuditDep,
    DbSession,
    SettingsDep,
    SnapshotDep,
)
from serving.keys import Caller, shown_key_id
from serving.reviews import ReviewConflict, add_review, findings_of, record_outcome, reviews_of
from serving.schemas import ErrorOut, OutcomeIn, ReviewIn, ReviewOut, SponsorId

router = APIRouter(prefix="/v1", tags=["reviews"], responses=AUTH_RESPONSES)
_NOT_FOUND = {404: {"model": ErrorOut, "description": "Unknown sponsor or review"}}


def review_out(review: Review, viewer: Caller | None = None, secret: str = "") -> ReviewOut:
    """A review as the API shows it; with a ``viewer``, other people's key ids are shown
    as pseudonyms unless the viewer is an admin (``serving.keys.shown_key_id``)."""
    key_id = review.key_id if viewer is None else shown_key_id(review.key_id, viewer, secret)
    return ReviewOut(
        review_id=review.review_id, sponsor_id=review.sponsor_id, decision=review.decision,
        note=review.note, decided_on=review.decided_on, created_at=review.created_at,
        key_id=key_id, model_version=review.model_version, score=review.score,
        score_as_of=review.score_as_of, outcome=review.outcome, closed_on=review.closed_on,
        findings=findings_of(review), fine_eur=review.fine_eur,
        outcome_note=review.outcome_note or "")


def _audit_reviews(audit: AuditWriter, caller: Caller, endpoint: str,
                   reviews: list[Review], detail: dict[str, Any] | None = None) -> None:
    """One audit row for a response showing reviews (each carries the score it saw)."""
    if not reviews:
        return
    versions = {r.model_version for r in reviews}
    dates = {r.score_as_of for r in reviews}
    audit.record(audit_row(caller.key_id, caller.role.value, endpoint,
                           sorted({r.sponsor_id for r in reviews}),
                           versions.pop() if len(versions) == 1 else None,
                           dates.pop() if len(dates) == 1 else None,
                           detail={"review_ids": [r.review_id for r in reviews], **(detail or {})}))


@router.post("/sponsors/{sponsor_id}/reviews", response_model=ReviewOut,
             status_code=status.HTTP_201_CREATED, responses=_NOT_FOUND)
def create_review(sponsor_id: SponsorId, body: ReviewIn, caller: AnalystKey,
                  session: DbSession, snapshot: SnapshotDep, audit: AuditDep,
                  settings: SettingsDep) -> ReviewOut:
    """Record a decision to inspect or dismiss a ranked sponsor, with the score it saw."""
    row = snapshot.row(sponsor_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            f"sponsor {sponsor_id} is not in the ranking of {snapshot.as_of}")
    review = add_review(session, sponsor_id, body.decision, body.note, caller.key_id,
                        body.decided_on or datetime.now(UTC).date(), row["model_version"],
                        float(row["score"]), snapshot.as_of)
    audit.record(audit_row(caller.key_id, caller.role.value, "POST /v1/sponsors/{id}/reviews",
                           [sponsor_id], row["model_version"], snapshot.as_of,
                           detail={"review_ids": [review.review_id]}))
    return review_out(review, caller, settings.secret_key.get_secret_value())


@router.get("/sponsors/{sponsor_id}/reviews", response_model=list[ReviewOut])
def list_reviews(sponsor_id: SponsorId, caller: AnalystKey, session: DbSession,
                 audit: AuditDep, settings: SettingsDep) -> list[ReviewOut]:
    """Every review of a sponsor, oldest first."""
    reviews = reviews_of(session, sponsor_id)
    _audit_reviews(audit, caller, "GET /v1/sponsors/{id}/reviews", reviews)
    return [review_out(r, caller, settings.secret_key.get_secret_value()) for r in reviews]


@router.get("/reviews/{review_id}", response_model=ReviewOut, responses=_NOT_FOUND)
def get_review(caller: AnalystKey, session: DbSession, audit: AuditDep,
               settings: SettingsDep, review_id: str = Path(max_length=64)) -> ReviewOut:
    review = session.get(Review, review_id)
    if review is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no review {review_id!r}")
    _audit_reviews(audit, caller, "GET /v1/reviews/{id}", [review])
    return review_out(review, caller, settings.secret_key.get_secret_value())


def outcome_of(review: Review | None) -> dict[str, Any] | None:
    """The outcome fields of a review as they stand (the audit row of a correction keeps
    the value it replaced)."""
    if review is None or review.outcome is None:
        return None
    return {"outcome": review.outcome, "closed_on": review.closed_on,
            "findings": findings_of(review), "fine_eur": review.fine_eur,
            "note": review.outcome_note, "key_id": review.outcome_key_id,
            "at": review.outcome_at}


@router.post("/reviews/{review_id}/outcome", response_model=ReviewOut,
             responses={**_NOT_FOUND,
                        409: {"model": ErrorOut, "description": "Review takes no outcome"}})
def set_outcome(body: OutcomeIn, caller: AnalystKey, session: DbSession, audit: AuditDep,
                settings: SettingsDep, review_id: str = Path(max_length=64)) -> ReviewOut:
    """Record (or correct) the outcome of the inspection a review opened. The audit row
    keeps the outcome it replaced."""
    previous = outcome_of(session.get(Review, review_id))
    try:
        review = record_outcome(session, review_id, body.outcome, body.closed_on,
                                list(body.findings), body.fine_eur, body.note, caller.key_id)
    except ReviewConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    if review is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no review {review_id!r}")
    _audit_reviews(audit, caller, "POST /v1/reviews/{id}/outcome", [review],
                   {"outcome": outcome_of(review), "replaced": previous})
    return review_out(review, caller, settings.secret_key.get_secret_value())
