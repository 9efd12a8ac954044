"""The calibrator maps margins to probabilities without ever reordering them."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from training.fitting.calibration import calibration_in_the_large, fit_calibrator
from training.fitting.model import SigmoidCalibrator


def _labels_following(margin: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random(margin.size) < 1 / (1 + np.exp(-(0.8 * margin - 1.0)))).astype(float)


def test_platt_scaling_recovers_a_known_link() -> None:
    margin = np.random.default_rng(1).normal(0, 2, 20_000)
    calibrator = fit_calibrator(margin, _labels_following(margin, 2))
    assert isinstance(calibrator, SigmoidCalibrator)
    assert calibrator.slope == pytest.approx(0.8, abs=0.05)
    assert calibrator.intercept == pytest.approx(-1.0, abs=0.05)


def test_labels_against_the_booster_keep_its_order_and_fit_the_level() -> None:
    # on a small held-out slice the labels may run against the margin; a negative Platt
    # slope would rank the riskiest sponsors last
    margin = np.array([-2.0, -1.0, 0.0, 1.0, 2.0, 3.0])
    y = np.array([1.0, 1.0, 0.0, 0.0, 0.0, 0.0])
    calibrator = fit_calibrator(margin, y)
    scores = calibrator.transform(margin)
    assert np.all(np.diff(scores) > 0)
    assert scores.sum() == pytest.approx(y.sum(), rel=1e-6)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-6, 6), min_size=4, max_size=40),
       st.lists(st.booleans(), min_size=4, max_size=40))
def test_sigmoid_calibration_never_reverses_the_ranking(margins: list[float],
                                                        labels: list[bool]) -> None:
    n = min(len(margins), len(labels))
    margin, y = np.array(margins[:n]), np.array(labels[:n], dtype=float)
    if y.min() == y.max():
        return
    calibrator = fit_calibrator(margin, y)
    grid = np.linspace(-8, 8, 50)
    assert np.all(np.diff(calibrator.transform(grid)) >= 0)


def test_level_shift_matches_the_observed_rate_with_weights() -> None:
    margin = np.array([-1.0, 0.0, 1.0, 2.0])
    y = np.array([0.0, 1.0, 0.0, 1.0])
    weights = np.array([1.0, 3.0, 1.0, 1.0])
    shift = calibration_in_the_large(margin, y, weights)
    predicted = np.sum(weights / (1 + np.exp(-(margin + shift))))
    assert predicted == pytest.approx(4.0, rel=1e-9)
