"""Cases as contract inspections (version 2): one row per version of each inspection.

An inspection exists from the day a case requested it (``inspection_opened_on``): its
first version is OPEN, recorded that day; each outcome that applied (after approval where
four-eyes holds it) is a later version, recorded on the day it applied. A correction is a
new version, never a changed one; of several versions recorded on the same day the last
one stands (the contract's key is ``inspection_id, recorded_on``). Every version carries
the case's ``selection``, ``plan_id`` and ``inclusion_probability`` as the plan drew them.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from serving.cases.models import Case, CaseEvent
from serving.reviews import check_inspections, write_inspections


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def case_versions(case: Case, events: list[CaseEvent]) -> list[dict[str, Any]]:
    """The inspection versions of one case, oldest first (none without an inspection)."""
    if case.inspection_opened_on is None:
        return []
    base = {"inspection_id": case.inspection_id, "sponsor_id": case.sponsor_id,
            "opened_on": case.inspection_opened_on, "selection": case.selection,
            "plan_id": case.plan_id, "inclusion_probability": case.inclusion_probability}
    by_day: dict[date, dict[str, Any]] = {case.inspection_opened_on: {
        **base, "closed_on": None, "outcome": "OPEN", "findings": None, "fine_eur": None,
        "recorded_on": case.inspection_opened_on}}
    for event in events:
        if event.kind != "outcome":
            continue
        after = event.after_dict()
        closed_on = _day(after.get("closed_on"))
        recorded = _day(after.get("recorded_on")) or event.at.date()
        if closed_on is not None:
            recorded = max(recorded, closed_on)
        findings = after.get("findings")
        by_day[recorded] = {**base, "closed_on": closed_on, "outcome": after["outcome"],
                            "findings": (json.loads(findings) or None
                                         if findings else None),
                            "fine_eur": after.get("fine_eur"), "recorded_on": recorded}
    return [by_day[d] for d in sorted(by_day)]


def cases_inspections(session: Session) -> pl.DataFrame:
    """Every case's inspection versions in the contract's ``inspections`` shape.

    Raises:
        ValueError: naming the inspection and rule when a row would break the contract.
    """
    cases = list(session.scalars(select(Case).where(Case.inspection_opened_on.is_not(None))
                                 .order_by(Case.created_at, Case.case_id)))
    events: dict[str, list[CaseEvent]] = {c.case_id: [] for c in cases}
    if cases:
        for event in session.scalars(select(CaseEvent).where(CaseEvent.kind == "outcome")
                                     .order_by(CaseEvent.id)):
            if event.case_id in events:
                events[event.case_id].append(event)
    rows = [row for case in cases for row in case_versions(case, events[case.case_id])]
    return check_inspections(rows, "cases")


def export_cases(session: Session, destination: Path) -> int:
    """Write the cases' inspections to ``destination`` (.parquet or .csv); the row count."""
    return write_inspections(cases_inspections(session), destination)
