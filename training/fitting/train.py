"""Fit and evaluate honestly: prequential time folds with a horizon-long gap, the XGBoost
model and both baselines on the same folds, metrics on the labelled test set, on RANDOM
inspections alone, and (simulated worlds) against the truth.

Knowledge time: a fold that tests on day t trains on labels as known on t (inspection
versions recorded by t; later outcomes still open), and every training snapshot's window
ends by t (the horizon-long gap). Its test rows are scored against what is known at
``until``.

The model that gets registered is the one of the latest fold, the holdout: it learned
only what was known on the holdout's test date t_h, and so did every choice that shaped
it (the selection correction, its calibrator: see :mod:`training.fitting.out_of_time`),
so its holdout metrics and the promotion gate judge the served model on data nothing
learned or chose from.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from typing import Any

import numpy as np
import polars as pl

from training.fitting.calibration import CalibrationMethod
from training.fitting.crude_rule import REQUIRED as CRUDE_RULE_INPUTS
from training.fitting.crude_rule import crude_rule_score
from training.fitting.dataset import TrainingSet
from training.fitting.evaluation import truth_targets
from training.fitting.metrics import DEFAULT_KS, ranking_metrics
from training.fitting.model import RiskModel
from training.fitting.models import LogisticBaseline, XGBParams, fit_xgboost
from training.fitting.out_of_time import (
    OutOfTime,
    fit_out_of_time_calibrator,
    inner_folds,
    out_of_time_margins,
)
from training.fitting.selection import (
    CORRECTIONS,
    Correction,
    ipw_weight_sources,
    training_arrays,
)
from training.fitting.splits import TimeFold, prequential_folds

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
    #: Inner folds (a backtest as of the holdout's test date) for the nested choice and
    #: the out-of-time margins that calibrate each fold's booster.
    inner_folds: int = 3
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
    ``predictions`` holds every test snapshot row: ``sponsor_id, as_of, label, selection,
    inclusion_probability`` (Float64, null where unknown; labels as known at ``until``),
    ``truth`` (null without a truth table) and ``score_<model>``.
    """

    fold: TimeFold
    metrics: dict[str, float]
    predictions: pl.DataFrame


@dataclass
class TrainResult:
    """``folds`` are the evaluation folds, the holdout last; ``correction_comparison`` and
    ``choice`` come from the inner folds only (see :mod:`training.fitting.out_of_time`);
    ``calibration_inputs`` are the out-of-time margins the served model's calibrator was
    fitted on."""

    model: RiskModel
    logistic: LogisticBaseline
    config: TrainConfig
    folds: list[FoldResult]
    data_summary: dict[str, Any]
    correction_comparison: dict[str, dict[str, float]] = field(default_factory=dict)
    choice: dict[str, Any] = field(default_factory=dict)
    calibration_inputs: OutOfTime | None = None

    @property
    def holdout(self) -> FoldResult:
        return self.folds[-1]

    def honesty(self) -> dict[str, Any]:
        """What the run logs about its knowledge times, nested choice, calibration and
        weights."""
        keys = ("labels_known_on", "calibration_scheme", "calibration_dates",
                "calibration_rows", "ipw_weights", "inclusion_probability_known_rows")
        return {
            **self.choice,
            "folds": [{**f.fold.as_dict(), "labels_known_on": str(f.fold.test_dates[0]),
                       "test_labels_known_on": str(self.config.until),
                       "role": "holdout" if n == len(self.folds) - 1 else "evaluation"}
                      for n, f in enumerate(self.folds)],
            "served_model": {k: self.model.metadata[k] for k in keys
                             if k in self.model.metadata},
        }

    def pooled_metrics(self) -> dict[str, float]:
        """Metrics over the test rows of all folds together (each fold's scores came from
        a model that had not seen that fold)."""
        return pooled_metrics(self.folds, self.config)


def fit_risk_model(data: TrainingSet, train_dates: list[date], config: TrainConfig,
                   descriptions: dict[str, str], directions: dict[str, int],
                   correction: Correction | None = None,
                   train_arrays: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None = None,
                   *, known_on: date | None = None, calibration: OutOfTime | None = None,
                   ) -> RiskModel:
    """Fit the calibrated booster on ``train_dates`` with labels as known on ``known_on``
    (default: the set's own knowledge day).

    The booster learns from every training date; its calibrator is cross-fitted over time
    on ``calibration`` (out-of-time margins of the latest training dates, labelled as known
    on ``known_on``), computed here with the inner folds of ``train_dates`` when not given.
    ``train_arrays`` are the training inputs of all ``train_dates`` (labels known on
    ``known_on``) when the caller has them already.
    """
    correction = correction or config.correction
    known_on = known_on or data.knowledge_day
    view = data.known_on(known_on)
    if calibration is None:
        folds = inner_folds(train_dates, config.horizon_months, known_on, config.inner_folds)
        calibration = out_of_time_margins(data, folds, known_on, correction, config.params,
                                          config.seed, directions)
    calibrator, calibration_info = fit_out_of_time_calibrator(calibration, config.calibration)
    x, y, w = train_arrays or training_arrays(view, train_dates, correction, config.seed)
    _require_both_classes(y, sorted(train_dates))
    booster = fit_xgboost(x, y, data.feature_names, directions, config.params, config.seed, w)
    labelled = view.rows(train_dates)
    metadata = {
        "train_dates": [str(d) for d in sorted(train_dates)],
        "fit_dates": [str(d) for d in sorted(train_dates)],
        "labels_known_on": str(known_on),
        "train_until": str(config.until),
        "horizon_months": config.horizon_months,
        "correction": correction,
        "calibration": type(calibrator).__name__,
        **calibration_info,
        "inclusion_probability_known_rows": int(
            labelled.get_column("inclusion_probability").is_not_null().sum()),
        "params": config.params.as_dict(),
        "seed": config.seed,
    }
    if correction == "ipw":
        metadata["ipw_weights"] = ipw_weight_sources(view, train_dates)
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
    predictions = rows.select("sponsor_id", "as_of", "label", "selection",
                              pl.col("inclusion_probability").cast(pl.Float64)).with_columns(
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
    }
    if "truth" in predictions.columns:
        slices["truth"] = (predictions.filter(pl.col("truth").is_not_null()), "truth")
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


def evaluation_folds(data: TrainingSet, config: TrainConfig) -> list[TimeFold]:
    """The prequential folds of the run, the holdout last.

    Raises:
        ValueError: when the snapshot dates give no fold.
    """
    folds = prequential_folds(data.dates, config.horizon_months, config.until,
                              n_folds=config.n_folds, min_train_dates=1)
    if not folds:
        raise ValueError(
            f"no time fold: snapshot dates {[str(d) for d in data.dates]} hold no two dates "
            f"{config.horizon_months} months apart with complete label windows by "
            f"{config.until}; build more snapshots (`sponsorwatch features`)")
    return folds


def choice_folds(data: TrainingSet, config: TrainConfig) -> tuple[list[TimeFold], TimeFold]:
    """The inner folds every choice is made on, and the holdout fold none of them touches:
    a backtest as of the holdout's test date t_h (test windows ended by t_h)."""
    holdout = evaluation_folds(data, config)[-1]
    return (inner_folds(holdout.train_dates, config.horizon_months, holdout.test_dates[0],
                        config.inner_folds), holdout)


def run_folds(data: TrainingSet, config: TrainConfig, descriptions: dict[str, str],
              directions: dict[str, int], truth: pl.DataFrame | None = None,
              correction: Correction | None = None, baselines: bool = True,
              holdout_calibration: OutOfTime | None = None,
              ) -> tuple[list[FoldResult], RiskModel, LogisticBaseline | None]:
    """Train and evaluate on each prequential fold; returns the fold results and the
    models of the latest fold (the logistic baseline only with ``baselines``).

    Each fold trains on labels as known on its test date and is scored against labels as
    known at ``until``. ``holdout_calibration``: out-of-time margins for the holdout's
    calibrator when the caller has them (the inner folds of the nested choice).

    Raises:
        ValueError: when the snapshot dates give no fold.
    """
    correction = correction or config.correction
    folds = evaluation_folds(data, config)
    results: list[FoldResult] = []
    model: RiskModel | None = None
    logistic: LogisticBaseline | None = None
    for number, fold in enumerate(folds):
        known_on = fold.test_dates[0]
        arrays = training_arrays(data.known_on(known_on), fold.train_dates, correction,
                                 config.seed)
        last = number == len(folds) - 1
        if not _both_classes(arrays[1]) and not last:
            continue  # an early fold of a small world may lack one class; the last may not
        model = fit_risk_model(data, list(fold.train_dates), config, descriptions,
                               directions, correction, arrays, known_on=known_on,
                               calibration=holdout_calibration if last else None)
        models: dict[str, Any] = {"xgboost": model}
        if baselines:
            logistic = models["logistic"] = LogisticBaseline(config.seed).fit(*arrays)
        results.append(evaluate_fold(fold, data, models, config, truth))
    assert model is not None
    return results, model, logistic


def add_baselines(results: list[FoldResult], data: TrainingSet, config: TrainConfig,
                  correction: Correction) -> tuple[list[FoldResult], LogisticBaseline]:
    """Fit the logistic baseline on each fold's training rows (labels as known on the
    fold's test date) and add its scores and metrics to the fold results (for runs made
    without baselines)."""
    out: list[FoldResult] = []
    logistic: LogisticBaseline | None = None
    for result in results:
        arrays = training_arrays(data.known_on(result.fold.test_dates[0]),
                                 result.fold.train_dates, correction, config.seed)
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


def inner_metrics(margins: OutOfTime, config: TrainConfig) -> dict[str, float]:
    """``xgboost.{slice}.{metric}`` over the labelled rows of the inner folds."""
    if margins.empty:
        return {}
    return slice_metrics(margins.predictions, config)


def train_and_evaluate(data: TrainingSet, config: TrainConfig, descriptions: dict[str, str],
                       directions: dict[str, int], truth: pl.DataFrame | None = None,
                       compare_corrections: bool = False) -> TrainResult:
    """The whole training step. With ``compare_corrections`` every selection correction
    runs on the inner folds (a backtest as of the holdout's test date) and the one best on
    the unbiased slice there is kept (``none`` unless another one beats it); the holdout
    fold is touched by no choice. The comparison and which folds chose are in the result.
    """
    inner, holdout = choice_folds(data, config)
    known_on = holdout.test_dates[0]
    candidates: list[Correction] = list(CORRECTIONS) if compare_corrections else [
        config.correction]
    margins = {c: out_of_time_margins(data, inner, known_on, c, config.params, config.seed,
                                      directions) for c in candidates}
    comparison = {c: inner_metrics(m, config) for c, m in margins.items()}
    best = config.correction
    usable = [c for c in candidates if not margins[c].empty]
    if compare_corrections and usable:
        best = max(usable, key=lambda c: (selection_score(comparison[c]), -candidates.index(c)))
    chose_on = [f.name for f in margins[best].folds]
    if not compare_corrections:
        note = "none (correction fixed by the run)"
    elif usable:
        note = (f"inner folds {chose_on}: test windows ended by the holdout's test date "
                f"{known_on}, labels as known on it")
    else:
        note = f"none (too few dates): default correction {best!r} kept"
    folds, model, logistic = run_folds(data, config, descriptions, directions, truth, best,
                                       holdout_calibration=margins[best])
    assert logistic is not None
    choice = {"choice_folds": note,
              "inner_folds": [f.as_dict() for f in inner],
              "inner_folds_used": chose_on,
              "holdout_fold": holdout.name,
              "holdout_labels_known_on": str(config.until),
              "holdout_model_labels_known_on": str(known_on)}
    return TrainResult(model, logistic, replace(config, correction=best), folds, data.summary(),
                       comparison if compare_corrections else {}, choice, margins[best])
