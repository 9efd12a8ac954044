"""Ranking metrics on hand-checked examples."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from training.fitting.metrics import (
    average_precision,
    brier_score,
    calibration_curve,
    precision_at_k,
    ranking_metrics,
    recall_at_k,
)


def test_precision_and_recall_at_k() -> None:
    y = np.array([1, 0, 1, 0, 0, 1])
    s = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.1])
    assert precision_at_k(y, s, 2) == 0.5
    assert precision_at_k(y, s, 3) == 2 / 3
    assert recall_at_k(y, s, 3) == 2 / 3
    assert precision_at_k(y, s, 100) == 0.5  # fewer rows than k: all of them


def test_average_precision_matches_sklearn_without_ties() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 300)
    s = rng.random(300)
    assert math.isclose(average_precision(y, s), average_precision_score(y, s))


def test_lift_and_single_class() -> None:
    y = np.array([1, 0, 0, 0])
    s = np.array([0.9, 0.1, 0.2, 0.3])
    m = ranking_metrics(y, s, ks=(1,))
    assert m["lift_at_1"] == 4.0
    assert math.isnan(ranking_metrics(np.zeros(3), np.ones(3), ks=(1,))["auc_roc"])


def test_calibration_curve_bins_cover_all_rows() -> None:
    p = np.linspace(0, 1, 95)
    curve = calibration_curve((p > 0.5).astype(float), p, n_bins=10)
    assert sum(curve["count"]) == 95
    assert curve["predicted"] == sorted(curve["predicted"])


def test_average_precision_is_sklearns_where_no_score_ties() -> None:
    rng = np.random.default_rng(7)
    for n in (10, 500, 5_000):
        y = (rng.random(n) < 0.1).astype(float)
        scores = rng.random(n)  # continuous: no ties
        assert average_precision(y, scores) == pytest.approx(
            average_precision_score(y, scores), abs=1e-12)
    tied = np.array([0.5, 0.5, 0.1])
    # With ties the served order decides (first listed first); sklearn pools the tie.
    assert average_precision(np.array([1.0, 0.0, 0.0]), tied) == pytest.approx(1.0)
    assert average_precision_score([1, 0, 0], tied) == pytest.approx(0.5)


def test_brier_is_sklearns_and_undefined_for_points() -> None:
    from sklearn.metrics import brier_score_loss

    y = np.array([0.0, 1.0, 1.0, 0.0])
    p = np.array([0.1, 0.8, 0.6, 0.3])
    assert brier_score(y, p) == brier_score_loss(y, p)
    assert math.isnan(brier_score(y, np.array([0.0, 3.0, 4.0, 1.0])))  # crude-rule points
    assert math.isnan(brier_score(np.array([]), np.array([])))
