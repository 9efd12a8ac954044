"""An audit run: the fairness audit of a stored score snapshot, with the champion's
contributions where the champion scored it."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sponsorwatch.settings import Settings
from training.governance.audit import FairnessAudit
from training.governance.snapshot_audit import audit_score_snapshot


def run_snapshot_audit(settings: Settings, as_of: date | None = None, k: int | None = None,
                       truth_path: Path | None = None) -> tuple[FairnessAudit, Path]:
    """Audit the score snapshot of ``as_of`` (default: the latest) and write its report
    under ``<reports>/fairness/as_of=DATE/``; returns the audit and that folder."""
    from training.registry.loading import load_model

    try:
        champion = load_model(settings)
    except LookupError:
        champion = None
    return audit_score_snapshot(settings, as_of, k, truth_path, champion=champion)
