"""Fit and evaluate honestly: prequential time folds with a horizon-long gap, the XGBoost
model and both baselines on the same folds, metrics on the labelled test set, on RANDOM
inspections alone, and (simulated worlds) against the truth.

The model that gets registered is the one of the latest fold: it was trained a horizon
before the held-out snapshot date, so its held-out metrics and the promotion gate compare
models on data neither learned from.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from typing import Any

import numpy as np
import polars as pl

from training.fitting.calibration import CalibrationMethod, fit_calibrator
from training.fitting.crude_rule import REQUIRED as CRUDE_RULE_INPUTS
from training.fitting.crude_rule import crude_rule_score
from training.fitting.dataset import TrainingSet
from training.fitting.evaluation import truth_targets
from training.fitting.metrics import DEFAULT_KS, ranking_metrics
from training.fitting.model import Calibrator, IdentityCalibrator, RiskModel
from training.fitting.models import LogisticBaseline, XGBParams, booster_margin, fit_xgboost
from training.fitting.selection import CORRECTIONS, Correction, training_arrays
from training.fitting.splits import TimeFold, calibration_split, prequential_folds

MODEL_KINDS = ("xgboost", "logistic", "crude_rule")
SLICES = ("labelled", "random", "truth")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run besides the data."""

    until: date
    horizon_months: int = 12
    params: XGBParams = field(default_factory=XGBParams)
    seed: int = 42
    calibration: CalibrationMethod = "sigmoid"
    correction: Correction = "none"
    n_folds: int = 3
    capacity: int = 100
    ks: tuple[int, ...] = DEFAULT_KS

    def as_params(self) -> dict[str, Any]:
        """Flat parameters for the tracking store."""
        flat = {k: v for k, v in asdict(self).items() if k != "params"}
        flat.update({f"xgb_{k}": v for k, v in self.params.as_dict().items()})
        flat["until"] = str(self.until)
        flat["ks"] = ",".join(str(k) for k in self.ks)
        return flat


@dataclass
class FoldResult:
    """Scores and metrics of every model kind on one fold's test snapshots.

    ``metrics`` keys are ``{model}.{slice}.{metric}``, e.g. ``xgboost.random.average_precision``.
    ``predictions`` holds every test snapshot row: ``sponsor_id, as_of, label, selection``,
    ``truth`` (null without a truth table) and ``score_<model>``.
    """

    fold: TimeFold
    metrics: dict[str, float]
    predictions: pl.DataFrame


@dataclass
class TrainResult:
    model: RiskModel
    logistic: LogisticBaseline
    config: TrainConfig
    folds: list[FoldResult]
    data_summary: dict[str, Any]
    correction_comparison: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def holdout(self) -> FoldResult:
        return self.folds[-1]

    def pooled_metrics(self) -> dict[str, float]:
        """Metrics over the test rows of all folds together (each fold's scores came from
        a model that had not seen that fold)."""
        return pooled_metrics(self.folds, self.config)


def fit_risk_model(data: TrainingSet, train_dates: list[date], config: TrainConfig,
                   descriptions: dict[str, str], directions: dict[str, int],
                   correction: Correction | None = None,
                   train_arrays: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None = None,
                   ) -> RiskModel:
    """Fit the calibrated booster on ``train_dates``.

    The calibrator is fitted on the latest training date(s) with a booster that learned only
    from dates a horizon earlier; the booster is then refitted on every training date with the
    same settings and keeps that calibrator. ``train_arrays`` are the training inputs of all
    ``train_dates`` when the caller has them already.
    """
    correction = correction or config.correction
    fit_dates, calibrate_dates = calibration_split(train_dates, config.horizon_months)
    x, y, w = training_arrays(data, fit_dates, correction, config.seed)
    calibration_rows = data.rows(calibrate_dates)
    calibration_y = calibration_rows.get_column("label").to_numpy()
    calibrator: Calibrator = IdentityCalibrator()
    if _both_classes(y) and _both_classes(calibration_y):
        booster = fit_xgboost(x, y, data.feature_names, directions, config.params,
                              config.seed, w)
        margin = booster_margin(booster, data.matrix(calibration_rows))
        calibrator = fit_calibrator(margin, calibration_y, config.calibration)
    else:  # too few labels to hold a slice out: the booster's own probability stands
        fit_dates, calibrate_dates = sorted(train_dates), []
    x, y, w = train_arrays or training_arrays(data, train_dates, correction, config.seed)
    _require_both_classes(y, sorted(train_dates))
    booster = fit_xgboost(x, y, data.feature_names, directions, config.params, config.seed, w)
    metadata = {
        "train_dates": [str(d) for d in sorted(train_dates)],
        "fit_dates": [str(d) for d in fit_dates],
        "calibration_dates": [str(d) for d in calibrate_dates],
        "train_until": str(config.until),
        "horizon_months": config.horizon_months,
        "correction": correction,
        "calibration": type(calibrator).__name__,
        "params": config.params.as_dict(),
        "seed": config.seed,
    }
    return RiskModel(list(data.feature_names), booster, calibrator,
                     {f: descriptions.get(f, f) for f in data.feature_names},
                     {f: int(directions.get(f, 0)) for f in data.feature_names}, metadata)


def _both_classes(y: np.ndarray) -> bool:
    return bool(y.size) and y.min() != y.max()


def _require_both_classes(y: np.ndarray, dates: list[date]) -> None:
    if not _both_classes(y):
        raise ValueError(
            f"the training snapshots {[str(d) for d in dates]} have "
            f"{int(y.sum())} positive and {int(y.size - y.sum())} negative labels; "
            "both classes are needed (more inspections, earlier snapshots or a later --until)")


def evaluate_fold(fold: TimeFold, data: TrainingSet, models: dict[str, Any],
                  config: TrainConfig, truth: pl.DataFrame | None) -> FoldResult:
    """Score every snapshot of the fold's test dates with each model kind; metrics per
    slice: labelled rows, RANDOM-selected labelled rows, and all rows against the truth."""
    rows = data.rows(fold.test_dates, labelled_only=False)
    scores = {"xgboost": models["xgboost"].predict(rows)}
    if "logistic" in models:
        scores["logistic"] = models["logistic"].predict(data.matrix(rows))
    if all(c in rows.columns for c in CRUDE_RULE_INPUTS):  # not in hand-made feature sets
        scores["crude_rule"] = crude_rule_score(rows)
    predictions = rows.select("sponsor_id", "as_of", "label", "selection").with_columns(
        pl.Series("truth", truth_targets(truth, rows) if truth is not None
                  else np.full(rows.height, np.nan)).fill_nan(None),
        *(pl.Series(f"score_{kind}", s) for kind, s in scores.items()))
    return FoldResult(fold, slice_metrics(predictions, config), predictions)


def slice_metrics(predictions: pl.DataFrame, config: TrainConfig) -> dict[str, float]:
    """``{model}.{slice}.{metric}`` for every model kind and slice present."""
    out: dict[str, float] = {}
    slices = {
        "labelled": (predictions.filter(pl.col("label").is_not_null()), "label"),
        "random": (predictions.filter(pl.col("label").is_not_null()
                                      & (pl.col("selection") == "RANDOM")), "label"),
        "truth": (predictions.filter(pl.col("truth").is_not_null()), "truth"),
    }
    for slice_name, (rows, target) in slices.items():
        if rows.is_empty():
            continue
        y = rows.get_column(target).cast(pl.Float64).to_numpy()
        for kind in MODEL_KINDS:
            if f"score_{kind}" not in rows.columns:
                continue
            metrics = ranking_metrics(y, rows.get_column(f"score_{kind}").to_numpy(),
                                      config.ks)
            if kind == "crude_rule":  # points, not probabilities
                metrics.pop("brier", None)
            out.update({f"{kind}.{slice_name}.{m}": v for m, v in metrics.items()})
    return out


def pooled_metrics(folds: list[FoldResult], config: TrainConfig) -> dict[str, float]:
    """Slice metrics over the concatenated test rows of all folds."""
    if not folds:
        return {}
    return slice_metrics(pl.concat([f.predictions for f in folds]), config)


def run_folds(data: TrainingSet, config: TrainConfig, descriptions: dict[str, str],
              directions: dict[str, int], truth: pl.DataFrame | None = None,
              correction: Correction | None = None, baselines: bool = True
              ) -> tuple[list[FoldResult], RiskModel, LogisticBaseline | None]:
    """Train and evaluate on each prequential fold; returns the fold results and the
    models of the latest fold (the logistic baseline only with ``baselines``).

    Raises:
        ValueError: when the snapshot dates give no fold.
    """
    correction = correction or config.correction
    folds = prequential_folds(data.dates, config.horizon_months, config.until,
                              n_folds=config.n_folds, min_train_dates=1)
    if not folds:
        raise ValueError(
            f"no time fold: snapshot dates {[str(d) for d in data.dates]} hold no two dates "
            f"{config.horizon_months} months apart with complete label windows by "
            f"{config.until}; build more snapshots (`sponsorwatch features`)")
    results: list[FoldResult] = []
    model: RiskModel | None = None
    logistic: LogisticBaseline | None = None
    for number, fold in enumerate(folds):
        arrays = training_arrays(data, fold.train_dates, correction, config.seed)
        if not _both_classes(arrays[1]) and number < len(folds) - 1:
            continue  # an early fold of a small world may lack one class; the last may not
        model = fit_risk_model(data, list(fold.train_dates), config, descriptions,
                               directions, correction, arrays)
        models: dict[str, Any] = {"xgboost": model}
        if baselines:
            logistic = models["logistic"] = LogisticBaseline(config.seed).fit(*arrays)
        results.append(evaluate_fold(fold, data, models, config, truth))
    assert model is not None
    return results, model, logistic


def add_baselines(results: list[FoldResult], data: TrainingSet, config: TrainConfig,
                  correction: Correction) -> tuple[list[FoldResult], LogisticBaseline]:
    """Fit the logistic baseline on each fold's training rows and add its scores and
    metrics to the fold results (for runs made without baselines)."""
    out: list[FoldResult] = []
    logistic: LogisticBaseline | None = None
    for result in results:
        arrays = training_arrays(data, result.fold.train_dates, correction, config.seed)
        logistic = LogisticBaseline(config.seed).fit(*arrays)
        rows = data.rows(result.fold.test_dates, labelled_only=False)
        predictions = result.predictions.with_columns(
            pl.Series("score_logistic", logistic.predict(data.matrix(rows))))
        out.append(FoldResult(result.fold, slice_metrics(predictions, config), predictions))
    assert logistic is not None
    return out, logistic


def selection_score(metrics: dict[str, float]) -> float:
    """What chooses a selection correction: average precision on RANDOM inspections (the
    unbiased slice), falling back to the labelled slice where there are no random labels."""
    for key in ("xgboost.random.average_precision", "xgboost.labelled.average_precision"):
        value = metrics.get(key, float("nan"))
        if not math.isnan(value):
            return value
    return float("-inf")


def train_and_evaluate(data: TrainingSet, config: TrainConfig, descriptions: dict[str, str],
                       directions: dict[str, int], truth: pl.DataFrame | None = None,
                       compare_corrections: bool = False) -> TrainResult:
    """The whole training step. With ``compare_corrections`` every selection correction
    runs on the same folds and the one best on the unbiased slice is kept (``none`` unless
    another one beats it); the comparison is part of the result."""
    candidates: list[Correction] = list(CORRECTIONS) if compare_corrections else [
        config.correction]
    outcomes: dict[str, tuple[list[FoldResult], RiskModel, LogisticBaseline | None]] = {}
    comparison: dict[str, dict[str, float]] = {}
    for correction in candidates:
        # The baseline is fitted once, for the correction that is kept.
        outcomes[correction] = run_folds(data, config, descriptions, directions, truth,
                                         correction, baselines=not compare_corrections)
        pooled = pooled_metrics(outcomes[correction][0], config)
        comparison[correction] = {k: v for k, v in pooled.items()
                                  if k.startswith("xgboost.")}
    best = candidates[0]
    for correction in candidates[1:]:
        if selection_score(comparison[correction]) > selection_score(comparison[best]):
            best = correction
    folds, model, logistic = outcomes[best]
    if logistic is None:
        folds, logistic = add_baselines(folds, data, config, best)
    return TrainResult(model, logistic, replace(config, correction=best), folds, data.summary(),
                       comparison if compare_corrections else {})
