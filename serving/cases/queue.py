"""The analysts' queue: views of the cases (mine, unassigned, waiting for approval, all
open, finished), overdue first, then by due date; one page at a time, so that the page
costs the same with ten or ten thousand cases (the ``ix_cases_*`` indexes serve each view).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.orm import Session

from serving.cases.models import CLOSED, DISMISSED, OPEN_STATUSES, Case

VIEWS = ("mine", "unassigned", "approvals", "open", "finished")
PAGE_SIZE = 50


@dataclass(frozen=True)
class QueuePage:
    view: str
    cases: list[Case]
    total: int
    page: int
    pages: int
    counts: dict[str, int]
    overdue: int


def _where(view: str, me: str) -> ColumnElement[bool]:
    open_ = Case.status.in_(OPEN_STATUSES)
    if view == "mine":
        return and_(open_, Case.assignee == me)
    if view == "unassigned":
        return and_(open_, Case.assignee.is_(None))
    if view == "approvals":
        return Case.pending.is_not(None)
    if view == "finished":
        return Case.status.in_((DISMISSED, CLOSED))
    return open_


def overdue_first(today: date):  # noqa: ANN201 - SQL ordering expressions
    """Overdue open cases first, then the earliest due, then the oldest."""
    late = case((and_(Case.due_on < today, Case.status.in_(OPEN_STATUSES)), 0), else_=1)
    return (late, Case.due_on, Case.opened_on, Case.case_id)


def queue_page(session: Session, me: str, view: str, today: date, page: int = 1,
               size: int = PAGE_SIZE, sponsor: str | None = None) -> QueuePage:
    """One page of ``view`` for the caller ``me``; ``sponsor`` narrows to one sponsor id."""
    if view not in VIEWS:
        view = "mine"
    counts = {}
    for name in VIEWS:
        stmt = select(func.count()).select_from(Case).where(_where(name, me))
        if sponsor:
            stmt = stmt.where(Case.sponsor_id == sponsor)
        counts[name] = session.scalar(stmt) or 0
    where = _where(view, me)
    if sponsor:
        where = and_(where, Case.sponsor_id == sponsor)
    overdue = session.scalar(select(func.count()).select_from(Case).where(
        where, Case.due_on < today, Case.status.in_(OPEN_STATUSES))) or 0
    total = counts[view]
    pages = max(1, -(-total // size))
    page = min(max(1, page), pages)
    cases = list(session.scalars(select(Case).where(where).order_by(*overdue_first(today))
                                 .offset((page - 1) * size).limit(size)))
    return QueuePage(view, cases, total, page, pages, counts, overdue)
