"""What the API and the pages share around the workflow: opening a case from the served
snapshot (score, rank, top decile) or a plan's pick, the once-per-process migration of
reviews, the audit row of a case access, and the case's reasons from the snapshot."""

from __future__ import annotations

import math
import threading
from typing import Any

from sqlalchemy.orm import Session

from serving.audit import audit_row
from serving.cases.migrate import migrate_reviews
from serving.cases.models import Case
from serving.cases.plans import find_pick
from serving.cases.workflow import CaseInvalid, CaseNotFound, open_case
from serving.keys import Caller
from serving.state import Snapshot
from sponsorwatch.settings import Settings

_MIGRATION_LOCK = threading.Lock()


def ensure_migrated(state: Any) -> None:
    """Migrate reviews into cases once per process (``state`` is ``app.state``)."""
    if getattr(state, "cases_migrated", False):
        return
    with _MIGRATION_LOCK:
        if getattr(state, "cases_migrated", False):
            return
        with Session(state.engine) as session:
            migrate_reviews(session, state.settings)
        state.cases_migrated = True


def in_top_decile(row: dict[str, Any], snapshot: Snapshot) -> bool:
    rank = row.get("rank")
    return rank is not None and int(rank) <= math.ceil(snapshot.frame.height / 10)


def open_for_sponsor(session: Session, settings: Settings, snapshot: Snapshot | None,
                     caller: Caller, sponsor_id: str, source: str,
                     plan_id: str | None = None, selection: str = "RISK_BASED",
                     note: str = "") -> Case:
    """Open a case on a ranked sponsor; from a plan (``source == "plan"``) the pick in
    ``plan_id`` (the newest plan picking the sponsor when None) gives the selection.

    Raises:
        CaseNotFound: when the sponsor is not ranked or the plan did not pick it.
        CaseInvalid, CaseConflict: from :func:`serving.cases.workflow.open_case`.
    """
    row = snapshot.row(sponsor_id) if snapshot is not None else None
    if row is None:
        raise CaseNotFound(f"sponsor {sponsor_id} is not in the served ranking")
    pick = None
    if source == "plan":
        pick = find_pick(settings.home, sponsor_id, plan_id)
        if pick is None:
            raise CaseNotFound(f"no plan{' ' + plan_id if plan_id else ''} picked "
                               f"sponsor {sponsor_id}")
    elif plan_id is not None:
        raise CaseInvalid("plan_id comes only with source 'plan'")
    return open_case(session, settings, caller, sponsor_id, source,
                     snapshot_row={**row, "as_of": snapshot.as_of if snapshot else None},
                     top_decile=in_top_decile(row, snapshot), pick=pick,
                     selection=selection, note=note)


def case_audit_row(caller: Caller, endpoint: str, cases: list[Case]) -> dict[str, Any]:
    """The audit row of a response showing ``cases`` (their sponsors)."""
    first = cases[0] if cases else None
    return audit_row(caller.key_id, caller.role.value, endpoint,
                     list(dict.fromkeys(c.sponsor_id for c in cases)),
                     first.model_version if first else None,
                     first.score_as_of if first else None)
