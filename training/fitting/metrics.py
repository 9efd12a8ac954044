"""Ranking metrics matched to inspection capacity, then calibration, then AUC.

The headline is precision in the top k (k = inspections the service can do); average
precision and lift over random follow; Brier score and the calibration curve say whether a
score of 0.3 means about 30 %; AUC-ROC comes last because it rewards order far below k.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

DEFAULT_KS: tuple[int, ...] = (50, 100, 200, 500)


def _ranked(y_true: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Labels ordered by descending score; ties broken by position (stable) so the metric
    is reproducible."""
    order = np.argsort(-np.asarray(scores, dtype=float), kind="stable")
    return np.asarray(y_true, dtype=float)[order]


def precision_at_k(y_true: np.ndarray, scores: np.ndarray, k: int) -> float:
    """Share of positives among the k highest scores (over all rows when fewer than k)."""
    ranked = _ranked(y_true, scores)
    top = ranked[:k]
    return float(top.mean()) if top.size else float("nan")


def recall_at_k(y_true: np.ndarray, scores: np.ndarray, k: int) -> float:
    """Share of all positives found in the k highest scores."""
    ranked = _ranked(y_true, scores)
    total = ranked.sum()
    return float(ranked[:k].sum() / total) if total else float("nan")


def average_precision(y_true: np.ndarray, scores: np.ndarray) -> float:
    """Mean of precision at each positive's rank in the served order (ties broken by
    position, as a ranking is). Equal to scikit-learn's ``average_precision_score`` where
    no scores tie; sklearn treats tied scores as one threshold, which no inspection list
    does, so it is not used here (tests/training/test_ranking_metrics.py compares them)."""
    ranked = _ranked(y_true, scores)
    total = ranked.sum()
    if not total:
        return float("nan")
    hits = np.cumsum(ranked)
    ranks = np.arange(1, ranked.size + 1)
    return float(((hits / ranks) * ranked).sum() / total)


def brier_score(y_true: np.ndarray, probabilities: np.ndarray) -> float:
    """Mean squared difference of probability and outcome (scikit-learn's); nan when empty
    or when the scores are not probabilities (the crude rule's points)."""
    from sklearn.metrics import brier_score_loss

    y = np.asarray(y_true, dtype=float)
    p = np.asarray(probabilities, dtype=float)
    if y.size == 0 or p.min() < 0 or p.max() > 1:
        return float("nan")
    return float(brier_score_loss(y, p, pos_label=1.0))


def auc_roc(y_true: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve; nan when only one class is present."""
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y_true, dtype=int)
    if y.size == 0 or y.min() == y.max():
        return float("nan")
    return float(roc_auc_score(y, scores))


def calibration_curve(y_true: np.ndarray, probabilities: np.ndarray,
                      n_bins: int = 10) -> dict[str, list[float]]:
    """Mean predicted vs observed rate per quantile bin of the prediction."""
    y = np.asarray(y_true, dtype=float)
    p = np.asarray(probabilities, dtype=float)
    if y.size == 0:
        return {"predicted": [], "observed": [], "count": []}
    order = np.argsort(p, kind="stable")
    bins = [b for b in np.array_split(order, min(n_bins, y.size)) if b.size]
    return {"predicted": [float(p[b].mean()) for b in bins],
            "observed": [float(y[b].mean()) for b in bins],
            "count": [int(b.size) for b in bins]}


def ranking_metrics(y_true: np.ndarray, scores: np.ndarray,
                    ks: Sequence[int] = DEFAULT_KS, prefix: str = "") -> dict[str, float]:
    """Every metric in order of importance, keyed ``{prefix}precision_at_100`` etc.

    ``scores`` should be calibrated probabilities for the Brier score to mean anything.
    """
    y = np.asarray(y_true, dtype=float)
    s = np.asarray(scores, dtype=float)
    base_rate = float(y.mean()) if y.size else float("nan")
    out: dict[str, float] = {}
    for k in ks:
        p = precision_at_k(y, s, k)
        out[f"{prefix}precision_at_{k}"] = p
        out[f"{prefix}recall_at_{k}"] = recall_at_k(y, s, k)
        out[f"{prefix}lift_at_{k}"] = p / base_rate if base_rate else float("nan")
    out[f"{prefix}average_precision"] = average_precision(y, s)
    out[f"{prefix}base_rate"] = base_rate
    out[f"{prefix}brier"] = brier_score(y, s)
    out[f"{prefix}auc_roc"] = auc_roc(y, s)
    out[f"{prefix}n"] = float(y.size)
    out[f"{prefix}positives"] = float(y.sum())
    return out


def precision_curve(y_true: np.ndarray, scores: np.ndarray,
                    max_k: int | None = None) -> np.ndarray:
    """Precision at every k from 1 to ``max_k`` (for the precision-at-k plot)."""
    ranked = _ranked(y_true, scores)
    if max_k is not None:
        ranked = ranked[:max_k]
    return np.cumsum(ranked) / np.arange(1, ranked.size + 1)


def binomial_interval(successes: ArrayLike, trials: ArrayLike, method: str = "wilson",
                      alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided ``1 - alpha`` interval of binomial proportions, elementwise, by statsmodels:
    ``"wilson"`` (score interval) or ``"beta"`` (exact Clopper-Pearson). The bounds are
    exactly 0 with no successes and 1 with no failures; NaN where there are no trials."""
    from statsmodels.stats.proportion import proportion_confint

    hits = np.atleast_1d(np.asarray(successes, dtype=float))
    n = np.atleast_1d(np.asarray(trials, dtype=float))
    hits, n = np.broadcast_arrays(hits, n)
    lo, hi = np.full(n.shape, np.nan), np.full(n.shape, np.nan)
    valid = n > 0
    if valid.any():
        low, high = proportion_confint(hits[valid], n[valid], alpha=alpha, method=method)
        lo[valid] = np.where(hits[valid] == 0, 0.0, np.clip(low, 0.0, 1.0))
        hi[valid] = np.where(hits[valid] == n[valid], 1.0, np.clip(high, 0.0, 1.0))
    return lo, hi
