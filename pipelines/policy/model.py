"""The tool's side of the loop: train a challenger on the warehouse as it stands, and let
it replace the champion only where it beats it on the challenger's own held-out snapshots,
as ``training.registry.gates.beats_champion`` decides (in process: no registry).

Only the public training functions are used: ``assemble``, ``train_and_evaluate`` and
``feature_meta``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import polars as pl

from pipelines.policy.config import LoopConfig
from pipelines.policy.world import KEYS
from training.fitting.dataset import TrainingSet, assemble
from training.fitting.feature_meta import feature_meta
from training.fitting.train import TrainConfig, train_and_evaluate


@dataclass
class Training:
    """One training of the loop and the gate's verdict."""

    until: date
    model: Any = None
    promoted: bool = False
    error: str | None = None
    numbers: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


def train_dates(dates: list[date], until: date, config: LoopConfig) -> list[date]:
    """The latest ``max_train_dates`` snapshot days whose label window ends by ``until``."""
    last = pl.select(pl.lit(until).dt.offset_by(f"-{config.horizon_months}mo")).item()
    return sorted(d for d in dates if d <= last)[-config.max_train_dates:]


def train_challenger(features: pl.DataFrame, inspections: pl.DataFrame, until: date,
                     truth: pl.DataFrame, config: LoopConfig, seed: int
                     ) -> tuple[Training, TrainingSet | None, Any]:
    """Train on the snapshots labelled by ``until``; (training, its data, its result).

    A training that cannot run (one class only, no fold) is returned with its ``error``
    and no model: the champion then stays.
    """
    clock = time.perf_counter()
    meta = feature_meta(config.use_sector)
    dates = train_dates(features["as_of"].unique().to_list(), until, config)
    training = Training(until)
    try:
        data = assemble(features.lazy().filter(pl.col("as_of").is_in(dates)),
                        inspections.lazy(), meta.names, config.horizon_months, until)
        result = train_and_evaluate(
            data, TrainConfig(until=until, horizon_months=config.horizon_months, seed=seed,
                              n_folds=config.n_folds, capacity=config.top_k),
            meta.descriptions, meta.directions,
            truth.select("sponsor_id", "is_abusive", "abuse_from"))
    except ValueError as exc:
        training.error = str(exc)
        training.seconds = time.perf_counter() - clock
        return training, None, None
    training.model = result.model
    summary = data.summary()
    training.numbers = {"labelled_rows": summary["labelled_rows"],
                        "positive_rows": summary["positive_rows"],
                        "random_labelled_rows": summary["random_labelled_rows"],
                        "train_dates": len(dates),
                        **{f"holdout.{k}": v for k, v in result.holdout.metrics.items()
                           if k.startswith("xgboost.")}}
    training.seconds = time.perf_counter() - clock
    return training, data, result


def precision_at(labels: np.ndarray, scores: np.ndarray, k: int) -> float:
    """Share of violations among the ``k`` highest scores (ties in row order)."""
    order = np.argsort(-scores, kind="stable")[:k]
    return float(labels[order].mean()) if order.size else float("nan")


def gate(training: Training, data: TrainingSet, result: Any, champion: Any,
         config: LoopConfig) -> Training:
    """Promote the challenger where its precision at capacity on its labelled held-out
    snapshots exceeds the champion's on the very same rows (k: ``top_k``, or half the rows
    where fewer are labelled); the first model is promoted without a champion."""
    holdout = result.holdout.predictions.filter(pl.col("label").is_not_null())
    rows = holdout.select(*KEYS, "score_xgboost").join(data.frame, on=KEYS, how="left",
                                                       maintain_order="left")
    labels = rows["label"].cast(pl.Float64).to_numpy()
    k = min(config.top_k, max(1, rows.height // 2))
    challenger_p = precision_at(labels, rows["score_xgboost"].to_numpy(), k)
    training.numbers.update({"gate_k": k, "gate_rows": rows.height,
                             "challenger_precision_at_k": challenger_p})
    if champion is None:
        training.promoted = True
        return training
    champion_p = precision_at(labels, champion.predict(rows), k)
    training.numbers["champion_precision_at_k"] = champion_p
    training.promoted = bool(challenger_p > champion_p)
    return training
