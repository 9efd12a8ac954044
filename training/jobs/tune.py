"""A tuning run: a parent MLflow run with one nested run per trial; the best settings are
written as JSON for ``sponsorwatch train --params``.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from sponsorwatch.settings import Settings
from training.fitting.models import XGBParams
from training.fitting.train import TrainConfig, choice_folds
from training.fitting.tune import OBJECTIVE, tune


def run_tuning(settings: Settings, until: date, trials: int, horizon_months: int,
               experiment: str, n_folds: int, out: Path | None) -> tuple[dict[str, Any], Path]:
    """The ``tune`` stage: a parent MLflow run with one nested run per trial; the best
    settings are written as JSON for ``sponsorwatch train --params``."""
    import mlflow

    from sponsorwatch.storage import write_json_atomic
    from training.fitting.feature_meta import feature_meta
    from training.jobs.train import load_training_set
    from training.registry.tracking import (
        ensure_experiment,
        finite_metrics,
        git_commit,
        tracking,
    )

    meta = feature_meta(settings.use_sector)
    config = TrainConfig(until=until, horizon_months=horizon_months, seed=settings.seed,
                         n_folds=n_folds, capacity=settings.inspection_capacity)
    data = load_training_set(settings, until, horizon_months, meta)
    experiment_id = ensure_experiment(settings, experiment)

    def log_trial(number: int, params: XGBParams, metrics: dict[str, float]) -> None:
        with mlflow.start_run(experiment_id=experiment_id, run_name=f"trial-{number}",
                              nested=True):
            mlflow.log_params(params.as_dict())
            mlflow.log_metrics(finite_metrics({f"pooled.{k}": v for k, v in metrics.items()
                                        if k.startswith("xgboost.")}))

    with tracking(settings), mlflow.start_run(experiment_id=experiment_id,
                                              run_name=f"tune-until-{until}"):
        mlflow.set_tags({"git_commit": git_commit(), "feature_set_version": meta.version,
                         "objective": OBJECTIVE})
        mlflow.log_params({"trials": trials, "until": str(until),
                           "horizon_months": horizon_months, "folds": n_folds})
        inner, holdout = choice_folds(data, config)
        # The objective reads the inner folds only; the holdout is left to the gate.
        mlflow.log_dict({"inner_folds": [f.as_dict() for f in inner],
                         "holdout_fold": holdout.as_dict()}, "tuning/folds.json")
        mlflow.set_tag("holdout_fold", holdout.name)
        best, value = tune(data, config, meta.directions, trials, log_trial)
        mlflow.log_params({f"best_{k}": v for k, v in best.as_dict().items()})
        mlflow.log_metric(f"best.{OBJECTIVE}", value)
        path = out or settings.home / "tuning" / "best_params.json"
        write_json_atomic(best.as_dict(), path)
        mlflow.log_artifact(str(path), "tuning")
    return best.as_dict(), path
