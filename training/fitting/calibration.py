"""Calibration: the map from the booster's margin to a probability, fitted on a slice of
snapshots later than the ones the booster learned from, so 0.3 means about 30 %."""

from __future__ import annotations

from typing import Literal

import numpy as np

from training.fitting.model import (
    Calibrator,
    IdentityCalibrator,
    IsotonicCalibrator,
    SigmoidCalibrator,
)

CalibrationMethod = Literal["sigmoid", "isotonic"]


def fit_calibrator(margin: np.ndarray, y: np.ndarray, method: CalibrationMethod = "sigmoid",
                   weights: np.ndarray | None = None) -> Calibrator:
    """Fit the map from margin to probability on a time-held-out slice.

    Sigmoid (Platt) keeps the order and needs few labels (its slope is kept positive: see
    :func:`calibration_in_the_large`); isotonic is more flexible but
    wants hundreds of labels of each class. With a single class there is nothing to learn
    and the booster's own probability is kept.
    """
    y = np.asarray(y, dtype=float)
    if y.size == 0 or y.min() == y.max():
        return IdentityCalibrator()
    m = np.asarray(margin, dtype=float)
    if method == "isotonic":
        from sklearn.isotonic import IsotonicRegression

        iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
        iso.fit(m, y, sample_weight=weights)
        return IsotonicCalibrator([float(v) for v in iso.X_thresholds_],
                                  [float(v) for v in iso.y_thresholds_])
    from sklearn.linear_model import LogisticRegression

    platt = LogisticRegression(C=1e6, max_iter=1000)
    platt.fit(m.reshape(-1, 1), y, sample_weight=weights)
    slope = float(platt.coef_[0, 0])
    if slope <= 0.0:
        # A held-out slice too small or noisy to confirm the booster's order must not turn
        # the ranking upside down: keep the order, fit the level alone.
        return SigmoidCalibrator(1.0, calibration_in_the_large(m, y, weights))
    return SigmoidCalibrator(slope, float(platt.intercept_[0]))


def calibration_in_the_large(margin: np.ndarray, y: np.ndarray,
                             weights: np.ndarray | None = None) -> float:
    """The shift ``b`` for which ``sigmoid(margin + b)`` predicts as many positives as the
    labels hold (the maximum-likelihood intercept with the slope fixed at 1)."""
    from scipy.optimize import brentq

    w = np.ones_like(y) if weights is None else np.asarray(weights, dtype=float)
    observed = float(np.sum(w * y))

    def excess(shift: float) -> float:
        return float(np.sum(w * SigmoidCalibrator(1.0, shift).transform(margin))) - observed

    reach = 50.0 + float(np.max(np.abs(margin)))
    return float(brentq(excess, -reach, reach))
