"""The fairness audit and model card of a training run, logged into the same MLflow run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sponsorwatch.settings import Settings
from training.fitting.feature_meta import FeatureMeta
from training.governance.audit import FairnessAudit
from training.governance.card_markdown import card_markdown
from training.governance.model_card import (
    CARD_ARTIFACT_DIR,
    build_model_card,
    card_cache_dir,
    write_card,
)
from training.registry.tracking import RegisteredVersion

if TYPE_CHECKING:
    from training.fitting.dataset import TrainingSet
    from training.fitting.train import TrainResult


def audit_holdout(settings: Settings, result: TrainResult, data: TrainingSet,
                  descriptions: Mapping[str, str]) -> FairnessAudit:
    """The fairness audit of a training run: the registered model's ranking of every
    sponsor on each snapshot of the holdout window (top k = the inspection capacity in
    each), the group tables pooled over those snapshots, measured on RANDOM inspections
    where there are enough of them (``settings.fairness_min_random``), else on every
    labelled one (the audit's ``basis`` says which and why). The proxy check, bias scan and
    gap attribution look at the latest held-out snapshot."""
    import polars as pl

    from sponsorwatch.storage import scan_warehouse
    from training.governance.audit import contributions_frame, run_fairness_audit
    from training.governance.groups import load_restricted_attributes

    predictions = result.holdout.predictions
    days = sorted(predictions["as_of"].unique().to_list())
    as_of = days[-1]
    scored = predictions.select("sponsor_id", "as_of", "label", "selection", "truth",
                                score=pl.col("score_xgboost"))
    restricted = pl.concat([load_restricted_attributes(settings.warehouse_dir, day)
                            .with_columns(pl.lit(day).alias("as_of")) for day in days],
                           how="vertical_relaxed")
    features = data.rows([as_of], labelled_only=False)
    return run_fairness_audit(
        scored, features, result.model.feature_names, scan_warehouse(settings.warehouse_dir),
        restricted, k=result.config.capacity, as_of=as_of,
        min_ratio=settings.fairness_min_ratio, seed=result.config.seed,
        min_support=settings.fairness_min_support, min_random=settings.fairness_min_random,
        min_group_share=settings.fairness_min_group_share,
        descriptions=descriptions, contributions=contributions_frame(result.model, features))


def document_training_run(settings: Settings, result: TrainResult, data: TrainingSet,
                          meta: FeatureMeta, version: RegisteredVersion,
                          manifest: Mapping[str, Any]) -> dict[str, Any]:
    """Audit a logged training run for fairness and generate its model card: both go to
    the run's artifacts (``fairness/``, ``model_card/``) and metrics, the card also to the
    registered version's description and to the home's card cache. Returns the card."""
    import tempfile

    from sponsorwatch.storage import json_safe
    from training.governance.audit import log_fairness_audit
    from training.registry.runs import model_info_payload
    from training.registry.tracking import client

    audit = audit_holdout(settings, result, data, meta.descriptions)
    info = model_info_payload(result, meta.version, dict(manifest))
    card = build_model_card(
        name=version.name, version=version.version or "unregistered", run_id=version.run_id,
        feature_names=result.model.feature_names, descriptions=meta.descriptions,
        directions=meta.directions, training_window=info["training_window"],
        data=info["data"], metrics=result.holdout.metrics,
        fairness=json_safe(json.loads(json.dumps(audit.to_dict(), default=str))),
        capacity=result.config.capacity, horizon_months=result.config.horizon_months,
        fairness_min_ratio=settings.fairness_min_ratio)
    mlflow_client = client(settings)
    log_fairness_audit(audit, mlflow_client, version.run_id)
    with tempfile.TemporaryDirectory() as tmp:
        write_card(card, Path(tmp))
        mlflow_client.log_artifacts(version.run_id, tmp, artifact_path=CARD_ARTIFACT_DIR)
    if version.version:
        mlflow_client.update_model_version(version.name, version.version,
                                           description=card_markdown(card))
        write_card(card, card_cache_dir(settings, version.version))
    return card
