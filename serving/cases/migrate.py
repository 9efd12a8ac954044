"""Reviews become cases: each review (``serving.db.Review``) not yet migrated becomes one
case, with its history as events, in one transaction.

Idempotent: a case keeps its ``review_id`` (unique), so a review is migrated once however
often this runs (at the first case request of each service process, and by
``sponsorwatch cases migrate``); two processes racing end with one case each.
The inspection keeps the review's id (``REV-<review_id>``), so deliveries made before the
migration and after it describe the same inspection. A review of a plan's pick keeps the
pick's selection and probability. Outcomes recorded before cases existed had no second
approval; the migrated event says so.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from serving.cases.models import CLOSED, DISMISSED, INSPECTION_REQUESTED, Case, CaseEvent
from serving.cases.plans import plan_picks
from serving.db import Review, utc_now
from serving.reviews import findings_of, review_selection
from sponsorwatch.settings import Settings

MIGRATION_ACTOR = "migration"


def _case_of(review: Review, settings: Settings, selection: dict) -> Case:
    closed = review.decision == "inspect" and review.outcome not in (None, "OPEN") \
        and review.closed_on is not None
    status = DISMISSED if review.decision != "inspect" else (
        CLOSED if closed else INSPECTION_REQUESTED)
    days = settings.case_review_days if status == DISMISSED else settings.case_inspection_days
    findings = findings_of(review)
    return Case(
        case_id=review.review_id, sponsor_id=review.sponsor_id, source="review",
        status=status, selection=selection["selection"], plan_id=selection["plan_id"],
        inclusion_probability=selection["inclusion_probability"],
        model_version=review.model_version, score=review.score,
        score_as_of=review.score_as_of, top_decile=False, assignee=review.key_id,
        opened_on=review.decided_on, due_on=review.decided_on + timedelta(days=days),
        inspection_opened_on=review.decided_on if review.decision == "inspect" else None,
        dismissal_reason="OTHER" if status == DISMISSED else None,
        outcome=review.outcome if closed else None,
        closed_on=review.closed_on if closed else None,
        findings=json.dumps(findings) if closed and findings else None,
        fine_eur=review.fine_eur if closed else None,
        inspection_id=f"REV-{review.review_id}", review_id=review.review_id,
        created_by=review.key_id, created_at=review.created_at, updated_at=utc_now())


def _events_of(review: Review, case: Case) -> list[CaseEvent]:
    events = [CaseEvent(
        case_id=case.case_id, at=review.created_at, actor=review.key_id, actor_role="analyst",
        kind="migrated", before="{}", note=review.note or "",
        after=json.dumps({"review_id": review.review_id, "decision": review.decision,
                          "status": case.status, "selection": case.selection,
                          "plan_id": case.plan_id,
                          "inclusion_probability": case.inclusion_probability,
                          "dismissal_reason": case.dismissal_reason}))]
    if case.status == CLOSED:
        recorded = max((review.outcome_at or review.created_at).date(), case.closed_on)
        events.append(CaseEvent(
            case_id=case.case_id, at=review.outcome_at or review.created_at,
            actor=review.outcome_key_id or review.key_id, actor_role="analyst",
            kind="outcome", before="{}", note=review.outcome_note or "",
            after=json.dumps({"status": CLOSED, "outcome": case.outcome,
                              "closed_on": case.closed_on.isoformat(),
                              "findings": case.findings, "fine_eur": case.fine_eur,
                              "recorded_on": recorded.isoformat(),
                              "approved_by": None, "four_eyes": "before cases"})))
    return events


def migrate_reviews(session: Session, settings: Settings, home: Path | None = None) -> int:
    """Turn every review without a case into one; returns how many were migrated."""
    done = select(Case.review_id).where(Case.review_id.is_not(None))
    reviews = list(session.scalars(select(Review).where(Review.review_id.not_in(done))
                                   .order_by(Review.created_at)))
    if not reviews:
        return 0
    picks = plan_picks(home or settings.home)
    for review in reviews:
        case = _case_of(review, settings, review_selection(review, picks))
        session.add(case)
        session.add_all(_events_of(review, case))
    try:
        session.commit()
    except IntegrityError:  # another process migrated them meanwhile
        session.rollback()
        return 0
    return len(reviews)
