"""XGBoost settings search with optuna on the inner folds of training.

The objective is average precision on the labelled test snapshots pooled over the inner
folds: a backtest as of the holdout's test date (see :mod:`training.fitting.out_of_time`),
so the holdout fold that the promotion gate reads is touched by no trial. The truth of a
simulated world is never looked at either, so a tuned model can still be judged on it.
Each trial is a nested MLflow run under one parent run.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from training.fitting.dataset import TrainingSet
from training.fitting.models import XGBParams
from training.fitting.out_of_time import out_of_time_margins
from training.fitting.train import TrainConfig, choice_folds, inner_metrics

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


def tune(data: TrainingSet, config: TrainConfig, directions: dict[str, int], trials: int,
         log_trial: Any = None
         ) -> tuple[XGBParams, float]:
    """Run the study (seeded TPE sampler) on the inner folds and return the best settings
    and their score.

    Raises:
        ValueError: when the dates give no inner fold (the holdout is never the fallback).
    """
    import optuna

    inner, holdout = choice_folds(data, config)
    if not inner:
        raise ValueError(
            f"too few snapshot dates to tune without the holdout {holdout.name}: no test "
            f"date {config.horizon_months} months before {holdout.test_dates[0]} has a "
            "training date a horizon before it; build earlier snapshots")
    known_on = holdout.test_dates[0]
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def objective(trial: optuna.Trial) -> float:
        params = suggest_params(trial, config.params)
        trial_config = replace(config, params=params)
        margins = out_of_time_margins(data, inner, known_on, config.correction, params,
                                      config.seed, directions)
        metrics = inner_metrics(margins, trial_config)
        value = metrics.get(OBJECTIVE, float("nan"))
        if log_trial is not None:
            log_trial(trial.number, params, metrics)
        return value

    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=config.seed))
    study.optimize(objective, n_trials=trials)
    best = suggest_params(optuna.trial.FixedTrial(study.best_params), config.params)
    return best, float(study.best_value)
