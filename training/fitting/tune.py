"""XGBoost settings search with optuna on the same time folds as training.

The objective is average precision on the labelled test snapshots pooled over folds (the
truth of a simulated world is never looked at, so a tuned model can still be judged on it).
Each trial is a nested MLflow run under one parent run.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from training.fitting.dataset import TrainingSet
from training.fitting.models import XGBParams
from training.fitting.train import TrainConfig, pooled_metrics, run_folds

OBJECTIVE = "xgboost.labelled.average_precision"


def suggest_params(trial: Any, base: XGBParams) -> XGBParams:
    """One point of the search space."""
    return replace(
        base,
        n_estimators=trial.suggest_int("n_estimators", 100, 600, step=50),
        learning_rate=trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
        max_depth=trial.suggest_int("max_depth", 2, 7),
        min_child_weight=trial.suggest_float("min_child_weight", 0.5, 20.0, log=True),
        subsample=trial.suggest_float("subsample", 0.5, 1.0),
        colsample_bytree=trial.suggest_float("colsample_bytree", 0.4, 1.0),
        reg_lambda=trial.suggest_float("reg_lambda", 0.1, 20.0, log=True),
        reg_alpha=trial.suggest_float("reg_alpha", 1e-3, 5.0, log=True),
    )


def tune(data: TrainingSet, config: TrainConfig, descriptions: dict[str, str],
         directions: dict[str, int], trials: int, log_trial: Any = None
         ) -> tuple[XGBParams, float]:
    """Run the study (seeded TPE sampler) and return the best settings and their score."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def objective(trial: optuna.Trial) -> float:
        params = suggest_params(trial, config.params)
        trial_config = replace(config, params=params)
        folds, _, _ = run_folds(data, trial_config, descriptions, directions,
                                baselines=False)
        metrics = pooled_metrics(folds, trial_config)
        value = metrics.get(OBJECTIVE, float("nan"))
        if log_trial is not None:
            log_trial(trial.number, params, metrics)
        return value

    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=config.seed))
    study.optimize(objective, n_trials=trials)
    best = suggest_params(optuna.trial.FixedTrial(study.best_params), config.params)
    return best, float(study.best_value)
