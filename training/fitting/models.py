"""Model fitting: the XGBoost main model with monotone constraints and
the logistic-regression baseline. Every fit is seeded and single-configuration so the same
data gives the same model to the last digit."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np


@dataclass(frozen=True)
class XGBParams:
    """XGBoost settings searched by ``sponsorwatch tune``; defaults suit a few thousand
    labelled snapshots."""

    n_estimators: int = 300
    learning_rate: float = 0.05
    max_depth: int = 4
    min_child_weight: float = 2.0
    subsample: float = 0.8
    colsample_bytree: float = 0.8
    reg_lambda: float = 1.0
    reg_alpha: float = 0.0
    #: Fixed so results do not depend on the machine's core count. One thread: on a shared
    #: two-core machine OpenMP threads spin against other processes and run slower than one.
    nthread: int = 1

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_updates(self, **changes: Any) -> XGBParams:
        return replace(self, **changes)


def fit_xgboost(x: np.ndarray, y: np.ndarray, feature_names: list[str],
                directions: dict[str, int], params: XGBParams, seed: int,
                weights: np.ndarray | None = None) -> Any:
    """Train a booster on log-loss with a monotone constraint on every feature whose risk
    direction is known (+1 more risk as it grows, -1 less, 0 free)."""
    import xgboost as xgb

    constraints = "(" + ",".join(str(int(directions.get(f, 0))) for f in feature_names) + ")"
    dtrain = xgb.DMatrix(x, label=y, weight=weights, feature_names=feature_names,
                         missing=np.nan)
    booster_params = {
        "objective": "binary:logistic",
        "eval_metric": "logloss",
        "tree_method": "hist",
        "eta": params.learning_rate,
        "max_depth": params.max_depth,
        "min_child_weight": params.min_child_weight,
        "subsample": params.subsample,
        "colsample_bytree": params.colsample_bytree,
        "lambda": params.reg_lambda,
        "alpha": params.reg_alpha,
        "monotone_constraints": constraints,
        "nthread": params.nthread,
        "seed": seed,
        "verbosity": 0,
    }
    return xgb.train(booster_params, dtrain, num_boost_round=params.n_estimators)


def booster_margin(booster: Any, x: np.ndarray) -> np.ndarray:
    return np.asarray(booster.inplace_predict(x, predict_type="margin"), dtype=float)


class LogisticBaseline:
    """Median-imputed (with missing indicators), standardised logistic regression."""

    def __init__(self, seed: int, c: float = 1.0) -> None:
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        self.pipeline = make_pipeline(
            SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
            StandardScaler(),
            LogisticRegression(C=c, max_iter=2000, random_state=seed))

    def fit(self, x: np.ndarray, y: np.ndarray,
            weights: np.ndarray | None = None) -> LogisticBaseline:
        self.pipeline.fit(x, y, logisticregression__sample_weight=weights)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.pipeline.predict_proba(x)[:, 1]
