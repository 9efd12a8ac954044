"""Selective labels: corrections for learning from inspections chosen mostly by risk.

Only inspected sponsors have labels, and most inspections were chosen by an earlier risk
rule, so the labelled set over-represents what that rule looked for. Two corrections:

- ``ipw``: weight each labelled snapshot by the inverse of its estimated propensity to be
  labelled (a logistic model of "was inspected" on the features over all snapshots), so
  kinds of sponsors the old selection rarely looked at count for more.
- ``pu``: positive-unlabelled learning: known violations against every other snapshot
  (unlabelled ones as negatives). Under Elkan and Noto's assumption the ranking of
  P(labelled positive | x) equals that of P(positive | x).

``none`` trains on the labelled snapshots as they are. Which one is kept is decided on the
unbiased estimate (RANDOM inspections) and the comparison is recorded.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Literal

import numpy as np
import polars as pl

from training.fitting.dataset import TrainingSet
from training.fitting.models import LogisticBaseline

Correction = Literal["none", "ipw", "pu"]
CORRECTIONS: tuple[Correction, ...] = ("none", "ipw", "pu")

#: Weights are clipped here so a handful of unlikely inspections cannot dominate a fit.
MAX_IPW_WEIGHT = 20.0
#: PU learning keeps at most this many unlabelled snapshots per labelled one (sampled with
#: the run's seed and up-weighted to stand for the rest) to bound the cost at scale.
PU_UNLABELLED_PER_LABELLED = 10


def training_arrays(data: TrainingSet, dates: Iterable[date], correction: Correction,
                    seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Inputs, targets and weights (None = equal) of a fit on ``dates``."""
    dates = sorted(set(dates))
    if correction == "none":
        rows = data.rows(dates)
        return data.matrix(rows), rows.get_column("label").to_numpy().astype(float), None
    if correction == "ipw":
        return _inverse_propensity(data, dates, seed)
    if correction == "pu":
        return _positive_unlabelled(data, dates, seed)
    raise ValueError(f"unknown selection correction {correction!r}; one of {CORRECTIONS}")


def _inverse_propensity(data: TrainingSet, dates: list[date],
                        seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    everyone = data.rows(dates, labelled_only=False)
    inspected = everyone.get_column("label").is_not_null().to_numpy()
    x_all = data.matrix(everyone)
    propensity = LogisticBaseline(seed).fit(x_all, inspected.astype(float)).predict(x_all)
    x = x_all[inspected]
    y = everyone.filter(pl.Series(inspected)).get_column("label").to_numpy().astype(float)
    weights = np.minimum(1.0 / np.clip(propensity[inspected], 1e-6, None), MAX_IPW_WEIGHT)
    return x, y, weights / weights.mean()


def _positive_unlabelled(data: TrainingSet, dates: list[date],
                         seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    everyone = data.rows(dates, labelled_only=False)
    positive = everyone.filter(pl.col("label") == 1)
    rest = everyone.filter(pl.col("label").is_null() | (pl.col("label") == 0))
    keep = max(PU_UNLABELLED_PER_LABELLED * max(positive.height, 1), 1)
    weight_rest = 1.0
    if rest.height > keep:
        weight_rest = rest.height / keep
        rest = rest.sample(n=keep, seed=seed, shuffle=False)
    x = np.vstack([data.matrix(positive), data.matrix(rest)])
    y = np.concatenate([np.ones(positive.height), np.zeros(rest.height)])
    weights = np.concatenate([np.ones(positive.height), np.full(rest.height, weight_rest)])
    return x, y, weights / weights.mean()
