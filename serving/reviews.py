"""Analyst reviews: a decision on a sponsor (inspect or dismiss) and an inspection's outcome.

Inspections opened from reviews are exported as contract ``inspections`` rows (version 2)
so they become labels of the next training run. A review of a sponsor that an inspection
plan picked (the newest plan drawn on or before the decision) keeps that pick's
``selection``, ``plan_id`` and ``inclusion_probability``: a RANDOM pick stays RANDOM.
Others were chosen from the ranking: ``RISK_BASED``. Reviews become cases
(``serving.cases.migrate``), which export the same inspection ids.
"""

from __future__ import annotations

import json
import uuid
from datetime import date
from pathlib import Path
from typing import Any

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


def pick_for_review(picks: pl.DataFrame, sponsor_id: str, decided_on: date
                    ) -> dict[str, Any] | None:
    """The plan pick behind an inspection decided on ``decided_on``: the newest plan drawn
    on or before that day that picked the sponsor (``picks`` as
    ``serving.cases.plans.plan_picks`` reads them), or None (then it was chosen by risk)."""
    own = picks.filter((pl.col("sponsor_id") == sponsor_id)
                       & (pl.col("plan_as_of") <= decided_on))
    return own.sort("plan_as_of").row(-1, named=True) if own.height else None


def review_selection(review: Review, picks: pl.DataFrame | None) -> dict[str, Any]:
    """``selection``, ``plan_id`` and ``inclusion_probability`` of the inspection a review
    opened: those of the plan pick behind it, else RISK_BASED without a plan."""
    pick = (pick_for_review(picks, review.sponsor_id, review.decided_on)
            if picks is not None else None)
    if pick is None:
        return {"selection": "RISK_BASED", "plan_id": None, "inclusion_probability": None}
    return {"selection": pick["selection"], "plan_id": pick["plan_id"],
            "inclusion_probability": float(pick["inclusion_probability"])}


def _review_row(r: Review, picks: pl.DataFrame | None) -> dict[str, Any]:
    closed = r.outcome not in (None, "OPEN") and r.closed_on is not None
    stamp = (r.outcome_at or r.created_at) if closed else r.created_at
    recorded = stamp.date() if stamp is not None else (
        r.closed_on if closed else r.decided_on)
    return {
        "inspection_id": f"REV-{r.review_id}",
        "sponsor_id": r.sponsor_id,
        "opened_on": r.decided_on,
        "closed_on": r.closed_on if closed else None,
        "outcome": r.outcome if closed else "OPEN",
        "findings": findings_of(r) or None,
        "fine_eur": r.fine_eur,
        "recorded_on": max(recorded, r.closed_on) if closed and r.closed_on else recorded,
        **review_selection(r, picks),
    }


def check_inspections(rows: list[dict[str, Any]], what: str) -> pl.DataFrame:
    """``rows`` as a frame of the contract's ``inspections`` (version 2) shape.

    Raises:
        ValueError: naming the inspection and rule when a row would break the contract.
    """
    frame = pl.DataFrame(rows, schema=INSPECTIONS.schema, orient="row")
    rules = [*row_rules(INSPECTIONS), key_rule(INSPECTIONS)]
    broken = frame.select(
        pl.col("inspection_id"),
        *[r.violation().alias(r.name) for r in rules]).unpivot(
        index="inspection_id", variable_name="rule").filter(pl.col("value"))
    if broken.height:
        first = broken.row(0, named=True)
        raise ValueError(f"{what} export: {first['inspection_id']} breaks {first['rule']}")
    return frame


def inspections_frame(reviews: list[Review], picks: pl.DataFrame | None = None
                      ) -> pl.DataFrame:
    """Inspections opened by reviews, in the contract's ``inspections`` shape; ``picks``
    (``serving.cases.plans.plan_picks``) give plan picks their selection and probability.

    Raises:
        ValueError: naming the review and rule when a row would break the contract.
    """
    return check_inspections([_review_row(r, picks) for r in reviews
                              if r.decision == "inspect"], "reviews")


def write_inspections(frame: pl.DataFrame, destination: Path) -> int:
    """Write contract inspections to ``destination`` (``.parquet`` or ``.csv``, findings
    joined with ``;`` as the contract says); returns the row count."""
    from sponsorwatch.storage import atomic_path, write_parquet_atomic

    if destination.suffix == ".csv":
        with atomic_path(destination) as tmp:
            frame.with_columns(pl.col("findings").list.join(";")).write_csv(tmp)
    else:
        write_parquet_atomic(frame, destination)
    return frame.height


def export_inspections(session: Session, destination: Path,
                       picks: pl.DataFrame | None = None) -> int:
    """Write inspections from reviews to ``destination``; with ``picks`` (the plans' picks,
    ``serving.cases.plans.plan_picks(home)``) a plan's pick keeps its selection (RANDOM
    stays RANDOM). Returns the row count."""
    return write_inspections(inspections_frame(all_reviews(session), picks), destination)
