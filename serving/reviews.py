"""Analyst reviews: a decision on a sponsor (inspect or dismiss) and an inspection's outcome.

Inspections opened from reviews are exported as contract ``inspections`` rows with
selection ``RISK_BASED`` so they become labels of the next training run.
"""

from __future__ import annotations

import json
import uuid
from datetime import date
from pathlib import Path

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from serving.db import Review, utc_now
from sponsorwatch.contract import INSPECTIONS, key_rule, row_rules


class ReviewConflict(ValueError):
    """The review cannot take this change (e.g. an outcome on a dismissal)."""


def add_review(session: Session, sponsor_id: str, decision: str, note: str, key_id: str,
               decided_on: date, model_version: str | None, score: float | None,
               score_as_of: date | None) -> Review:
    review = Review(review_id=str(uuid.uuid4()), sponsor_id=sponsor_id, decision=decision,
                    note=note, decided_on=decided_on, created_at=utc_now(), key_id=key_id,
                    model_version=model_version, score=score, score_as_of=score_as_of)
    session.add(review)
    session.commit()
    return review


def record_outcome(session: Session, review_id: str, outcome: str, closed_on: date | None,
                   findings: list[str], fine_eur: float | None, note: str,
                   key_id: str) -> Review | None:
    """Set (or correct) the outcome of an inspection decided in a review.

    Raises:
        ReviewConflict: when the review dismissed the sponsor, or the dates disagree.
    """
    review = session.get(Review, review_id)
    if review is None:
        return None
    if review.decision != "inspect":
        raise ReviewConflict(f"review {review_id} dismissed the sponsor; no inspection to close")
    if closed_on is not None and closed_on < review.decided_on:
        raise ReviewConflict(
            f"closed_on {closed_on} is before the inspection opened on {review.decided_on}")
    review.outcome = outcome
    review.closed_on = closed_on
    review.findings = json.dumps(findings) if findings else None
    review.fine_eur = fine_eur
    review.outcome_note = note
    review.outcome_key_id = key_id
    review.outcome_at = utc_now()
    session.commit()
    return review


def reviews_of(session: Session, sponsor_id: str) -> list[Review]:
    return list(session.scalars(select(Review).where(Review.sponsor_id == sponsor_id)
                                .order_by(Review.created_at)))


def all_reviews(session: Session) -> list[Review]:
    return list(session.scalars(select(Review).order_by(Review.created_at)))


def findings_of(review: Review) -> list[str]:
    return json.loads(review.findings) if review.findings else []


def inspections_frame(reviews: list[Review]) -> pl.DataFrame:
    """Inspections opened by reviews, in the contract's ``inspections`` shape.

    Raises:
        ValueError: naming the review and rule when a row would break the contract.
    """
    rows = [{
        "inspection_id": f"REV-{r.review_id}",
        "sponsor_id": r.sponsor_id,
        "opened_on": r.decided_on,
        "closed_on": r.closed_on if r.outcome not in (None, "OPEN") else None,
        "selection": "RISK_BASED",
        "outcome": r.outcome if r.outcome is not None and r.closed_on is not None else "OPEN",
        "findings": findings_of(r) or None,
        "fine_eur": r.fine_eur,
    } for r in reviews if r.decision == "inspect"]
    frame = pl.DataFrame(rows, schema=INSPECTIONS.schema, orient="row")
    rules = [*row_rules(INSPECTIONS), key_rule(INSPECTIONS)]
    broken = frame.select(
        pl.col("inspection_id"),
        *[r.violation().alias(r.name) for r in rules]).unpivot(
        index="inspection_id", variable_name="rule").filter(pl.col("value"))
    if broken.height:
        first = broken.row(0, named=True)
        raise ValueError(f"reviews export: {first['inspection_id']} breaks {first['rule']}")
    return frame


def export_inspections(session: Session, destination: Path) -> int:
    """Write inspections from reviews to ``destination`` (``.parquet`` or ``.csv``, findings
    joined with ``;`` as the contract says); returns the row count."""
    from sponsorwatch.storage import atomic_path, write_parquet_atomic

    frame = inspections_frame(all_reviews(session))
    if destination.suffix == ".csv":
        with atomic_path(destination) as tmp:
            frame.with_columns(pl.col("findings").list.join(";")).write_csv(tmp)
    else:
        write_parquet_atomic(frame, destination)
    return frame.height
