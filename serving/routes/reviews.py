"""Analysts' decisions on sponsors and the outcomes of the inspections they open."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, Path, status

from serving.audit import audit_row
from serving.db import Review
from serving.deps import AUTH_RESPONSES, AnalystKey, AuditDep, DbSession, SnapshotDep
from serving.reviews import ReviewConflict, add_review, findings_of, record_outcome, reviews_of
from serving.schemas import ErrorOut, OutcomeIn, ReviewIn, ReviewOut, SponsorId

router = APIRouter(prefix="/v1", tags=["reviews"], responses=AUTH_RESPONSES)
_NOT_FOUND = {404: {"model": ErrorOut, "description": "Unknown sponsor or review"}}


def review_out(review: Review) -> ReviewOut:
    return ReviewOut(
        review_id=review.review_id, sponsor_id=review.sponsor_id, decision=review.decision,
        note=review.note, decided_on=review.decided_on, created_at=review.created_at,
        key_id=review.key_id, model_version=review.model_version, score=review.score,
        score_as_of=review.score_as_of, outcome=review.outcome, closed_on=review.closed_on,
        findings=findings_of(review), fine_eur=review.fine_eur,
        outcome_note=review.outcome_note or "")


@router.post("/sponsors/{sponsor_id}/reviews", response_model=ReviewOut,
             status_code=status.HTTP_201_CREATED, responses=_NOT_FOUND)
def create_review(sponsor_id: SponsorId, body: ReviewIn, caller: AnalystKey,
                  session: DbSession, snapshot: SnapshotDep, audit: AuditDep) -> ReviewOut:
    """Record a decision to inspect or dismiss a ranked sponsor, with the score it saw."""
    row = snapshot.row(sponsor_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            f"sponsor {sponsor_id} is not in the ranking of {snapshot.as_of}")
    review = add_review(session, sponsor_id, body.decision, body.note, caller.key_id,
                        body.decided_on or datetime.now(UTC).date(), row["model_version"],
                        float(row["score"]), snapshot.as_of)
    audit.record(audit_row(caller.key_id, caller.role.value, "POST /v1/sponsors/{id}/reviews",
                           [sponsor_id], row["model_version"], snapshot.as_of))
    return review_out(review)


@router.get("/sponsors/{sponsor_id}/reviews", response_model=list[ReviewOut])
def list_reviews(sponsor_id: SponsorId, caller: AnalystKey,
                 session: DbSession) -> list[ReviewOut]:
    """Every review of a sponsor, oldest first."""
    return [review_out(r) for r in reviews_of(session, sponsor_id)]


@router.get("/reviews/{review_id}", response_model=ReviewOut, responses=_NOT_FOUND)
def get_review(review_id: str, caller: AnalystKey, session: DbSession) -> ReviewOut:
    review = session.get(Review, review_id)
    if review is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no review {review_id!r}")
    return review_out(review)


@router.post("/reviews/{review_id}/outcome", response_model=ReviewOut,
             responses={**_NOT_FOUND,
                        409: {"model": ErrorOut, "description": "Review takes no outcome"}})
def set_outcome(body: OutcomeIn, caller: AnalystKey, session: DbSession,
                review_id: str = Path(max_length=64)) -> ReviewOut:
    """Record (or correct) the outcome of the inspection a review opened."""
    try:
        review = record_outcome(session, review_id, body.outcome, body.closed_on,
                                list(body.findings), body.fine_eur, body.note, caller.key_id)
    except ReviewConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    if review is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no review {review_id!r}")
    return review_out(review)
