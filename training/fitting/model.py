"""The risk model as one plain, picklable object: booster, calibrator, feature metadata.

Serving imports this module, so it imports neither mlflow nor matplotlib, and xgboost only
when a model is used.
"""

from __future__ import annotations

import io
import math
import pickle
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl


@dataclass(frozen=True)
class Reason:
    """Why a score is high: one feature's push on the score (log-odds, from XGBoost's own
    SHAP contributions) with its value and the feature's one-line description."""

    feature: str
    value: float | None
    contribution: float
    description: str

    def as_dict(self) -> dict[str, Any]:
        return {"feature": self.feature, "value": self.value,
                "contribution": self.contribution, "description": self.description}

    def as_text(self) -> str:
        value = "missing" if self.value is None else f"{self.value:.4g}"
        return f"{self.feature}={value} (+{self.contribution:.3f}): {self.description}"


@dataclass
class SigmoidCalibrator:
    """Platt scaling on the booster's margin: p = 1 / (1 + exp(-(a * margin + b))).

    Strictly increasing, so calibration never reorders the ranking.
    """

    slope: float
    intercept: float

    def transform(self, margin: np.ndarray) -> np.ndarray:
        z = self.slope * np.asarray(margin, dtype=float) + self.intercept
        # clipped where exp would overflow: the probability is 0 or 1 to the last bit there
        return 1.0 / (1.0 + np.exp(-np.clip(z, -700.0, 700.0)))


@dataclass
class IsotonicCalibrator:
    """Isotonic map from margin to probability, as interpolation knots (no sklearn at
    prediction time). Flat steps can tie scores, so ranks break ties on the margin."""

    knots_x: list[float]
    knots_y: list[float]

    def transform(self, margin: np.ndarray) -> np.ndarray:
        return np.interp(np.asarray(margin, dtype=float), self.knots_x, self.knots_y)


@dataclass
class IdentityCalibrator:
    """The booster's own probability (used when there is nothing to calibrate on)."""

    def transform(self, margin: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-np.asarray(margin, dtype=float)))


Calibrator = SigmoidCalibrator | IsotonicCalibrator | IdentityCalibrator


def feature_matrix(frame: pl.DataFrame, feature_names: list[str]) -> np.ndarray:
    """The model's input matrix: the named columns in order, Float64, null as NaN.

    Raises:
        ValueError: naming every feature column the frame lacks.
    """
    missing = [f for f in feature_names if f not in frame.columns]
    if missing:
        raise ValueError(f"feature rows lack column(s) {missing}")
    if not feature_names:
        return np.empty((frame.height, 0))
    return (frame.select(pl.col(f).cast(pl.Float64) for f in feature_names)
            .to_numpy().astype(np.float64, copy=False))


@dataclass
class RiskModel:
    """A trained, calibrated sponsor risk model.

    Attributes:
        feature_names: input columns, in the booster's order.
        booster: the XGBoost booster (pickles as its raw JSON/UBJ model).
        calibrator: maps the booster's margin to a probability.
        descriptions: one-line description per feature, used in reasons.
        directions: +1 / -1 / 0 per feature (the monotone constraint used).
        metadata: training window, feature-set version, parameters.
    """

    feature_names: list[str]
    booster: Any
    calibrator: Calibrator
    descriptions: dict[str, str] = field(default_factory=dict)
    directions: dict[str, int] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    def margin(self, frame: pl.DataFrame) -> np.ndarray:
        """The booster's raw log-odds for each row."""
        if frame.height == 0:
            return np.empty(0)
        matrix = feature_matrix(frame, self.feature_names)
        return np.asarray(self.booster.inplace_predict(matrix, predict_type="margin"),
                          dtype=float)

    def predict(self, frame: pl.DataFrame) -> np.ndarray:
        """Calibrated probability of a violation within the horizon, one per row."""
        return self.calibrator.transform(self.margin(frame))

    def contributions(self, frame: pl.DataFrame) -> np.ndarray:
        """SHAP contributions per row and feature (log-odds); the last column is the bias."""
        import xgboost as xgb

        matrix = feature_matrix(frame, self.feature_names)
        if frame.height == 0:
            return np.empty((0, len(self.feature_names) + 1))
        dmatrix = xgb.DMatrix(matrix, feature_names=self.feature_names, missing=np.nan)
        return np.asarray(self.booster.predict(dmatrix, pred_contribs=True), dtype=float)

    def explain(self, frame: pl.DataFrame, top: int = 3) -> list[list[Reason]]:
        """The ``top`` features pushing each row's score up most (positive contributions
        only, largest first)."""
        if frame.height == 0:
            return []
        contribs = self.contributions(frame)[:, :-1]
        values = feature_matrix(frame, self.feature_names)
        order = np.argsort(-contribs, axis=1, kind="stable")[:, :top]
        reasons: list[list[Reason]] = []
        for row, columns in enumerate(order):
            row_reasons = []
            for col in columns:
                push = float(contribs[row, col])
                if push <= 0:
                    break
                value = float(values[row, col])
                name = self.feature_names[col]
                row_reasons.append(Reason(name, None if math.isnan(value) else value, push,
                                          self.descriptions.get(name, name)))
            reasons.append(row_reasons)
        return reasons

    def importance(self) -> dict[str, float]:
        """Total gain per feature (features never split on get 0)."""
        gains = self.booster.get_score(importance_type="total_gain")
        return {f: float(gains.get(f, 0.0)) for f in self.feature_names}


#: Where pickled models of earlier releases find their classes now (the layers move).
_MOVED_MODULES = {"training.model": "training.fitting.model"}


class _RiskModelUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        return super().find_class(_MOVED_MODULES.get(module, module), name)


def load_risk_model(data: bytes) -> RiskModel:
    """A pickled :class:`RiskModel`, including one pickled before it moved to
    ``training.fitting.model`` (registries of earlier releases keep those)."""
    return _RiskModelUnpickler(io.BytesIO(data)).load()
