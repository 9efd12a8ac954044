"""Selective labels: corrections for learning from inspections chosen mostly by risk.

Only inspected sponsors have labels, and most inspections were chosen by an earlier risk
rule, so the labelled set over-represents what that rule looked for. Two corrections:

- ``ipw``: weight each labelled snapshot by the inverse of its chance to be labelled, so
  kinds of sponsors the old selection rarely looked at count for more. Where the deciding
  inspection's plan recorded that chance (``inclusion_probability``, contract v2) the
  weight is 1 / that chance, as the design says (Horvitz-Thompson; a risk-based pick taken
  with certainty weighs 1); only where it is unknown (tips, other reasons, version 1 data)
  is it 1 / an estimated propensity (a logistic model of "was inspected" on the features
  over all snapshots), clipped at :data:`MAX_IPW_WEIGHT`. Known weights are not clipped:
  they carry no estimation noise, and clipping them would bias the design's estimate.
  :func:`ipw_weight_sources` counts which rows got which.
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


def ipw_weight_sources(data: TrainingSet, dates: Iterable[date]) -> dict[str, int]:
    """How many labelled rows of ``dates`` an ``ipw`` fit weighs by their known inclusion
    probability (``known``) and how many by an estimated propensity (``estimated``)."""
    known = data.rows(sorted(set(dates))).get_column("inclusion_probability").is_not_null()
    return {"known": int(known.sum()), "estimated": int((~known).sum())}


def design_weights(rows: pl.DataFrame) -> np.ndarray:
    """1 / inclusion probability where the plan recorded it, else 1 (one row stands for
    itself where the design is unknown)."""
    p = rows.get_column("inclusion_probability").cast(pl.Float64).to_numpy()
    p = np.where(np.isnan(p), 1.0, p)
    return 1.0 / np.clip(p, 1e-12, None)


def _inverse_propensity(data: TrainingSet, dates: list[date],
                        seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    everyone = data.rows(dates, labelled_only=False)
    inspected = everyone.get_column("label").is_not_null().to_numpy()
    x_all = data.matrix(everyone)
    labelled = everyone.filter(pl.Series(inspected))
    probability = labelled.get_column("inclusion_probability").cast(pl.Float64).to_numpy()
    known = ~np.isnan(probability)
    weights = np.empty(labelled.height)
    weights[known] = 1.0 / probability[known]
    if not known.all():  # the propensity model is fitted only where some weight needs it
        propensity = LogisticBaseline(seed).fit(x_all, inspected.astype(float)).predict(x_all)
        estimated = 1.0 / np.clip(propensity[inspected][~known], 1e-6, None)
        weights[~known] = np.minimum(estimated, MAX_IPW_WEIGHT)
    y = labelled.get_column("label").to_numpy().astype(float)
    return x_all[inspected], y, weights / weights.mean()


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
