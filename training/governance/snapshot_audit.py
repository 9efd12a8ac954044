"""The fairness audit of a score snapshot in use, against the labels of the horizon after
it (and the truth of a simulated world where there is one).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from training.governance.audit import FairnessAudit, contributions_frame, run_fairness_audit
from training.governance.groups import load_restricted_attributes


def audit_score_snapshot(settings: Any, as_of: date | None = None, k: int | None = None,
                         truth_path: Path | None = None,
                         champion: tuple[Any, Mapping[str, Any]] | None = None,
                         ) -> tuple[FairnessAudit, Path]:
    """Audit a stored score snapshot against the labels of the horizon after it (and the
    truth of a simulated world where there is one); write the report under
    ``<reports>/fairness/as_of=DATE/``. ``champion`` (a RiskModel and its registry info)
    explains the gap where it is the version that scored the snapshot.

    Raises:
        FileNotFoundError: when there is no score snapshot or warehouse.
    """
    from features.registry import FEATURES
    from sponsorwatch.storage import scan_warehouse
    from training.fitting.scoring import SCORE_COLUMNS, load_score_snapshot

    scores, day = load_score_snapshot(settings.scores_dir, as_of)
    tables = scan_warehouse(settings.warehouse_dir)
    feature_names = [c for c in scores.columns if c not in SCORE_COLUMNS]
    predictions = snapshot_predictions(settings, scores, day, tables, truth_path)
    audit = run_fairness_audit(
        predictions, scores, feature_names, tables,
        load_restricted_attributes(settings.warehouse_dir, day),
        k=k or settings.inspection_capacity, as_of=day, min_ratio=settings.fairness_min_ratio,
        seed=settings.seed,
        descriptions={n: FEATURES[n].description for n in feature_names if n in FEATURES},
        contributions=_snapshot_contributions(champion, scores, feature_names))
    folder = settings.reports_dir / "fairness" / f"as_of={day.isoformat()}"
    audit.write(folder)
    return audit, folder


def snapshot_predictions(settings: Any, scores: pl.DataFrame, day: date,
                         tables: Mapping[str, pl.LazyFrame],
                         truth_path: Path | None = None) -> pl.DataFrame:
    """A score snapshot as :func:`run_fairness_audit` takes it: ``sponsor_id``, ``score``,
    ``as_of``, the ``label`` of the horizon after it (where there are inspections) and the
    ``truth`` of a simulated world (where there is one)."""
    from training.fitting.evaluation import find_truth, load_truth, truth_targets
    from training.fitting.labels import build_labels

    predictions = scores.select("sponsor_id", "score", pl.lit(day).alias("as_of"))
    if "inspections" in tables:
        labels = build_labels(tables["inspections"], [day], settings.horizon_months).collect()
        predictions = predictions.join(labels.select("sponsor_id", "label"), on="sponsor_id",
                                       how="left")
    truth_file = find_truth(settings.warehouse_dir, truth_path)
    if truth_file is not None:
        predictions = predictions.with_columns(pl.Series(
            "truth", truth_targets(load_truth(truth_file), predictions)).cast(pl.Int8))
    return predictions


def _snapshot_contributions(champion: tuple[Any, Mapping[str, Any]] | None,
                            scores: pl.DataFrame,
                            feature_names: Sequence[str]) -> pl.DataFrame | None:
    """The champion's SHAP contributions to a snapshot's scores, where the champion is the
    version that scored it (else None: another model's reasons would explain nothing)."""
    if champion is None:
        return None
    model, info = champion
    versions = scores["model_version"].cast(pl.String).unique().to_list() \
        if "model_version" in scores.columns else []
    if versions != [str(info["version"])] or list(model.feature_names) != list(feature_names):
        return None
    return contributions_frame(model, scores)
