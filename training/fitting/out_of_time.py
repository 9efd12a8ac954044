"""Out-of-time margins: boosters scored on snapshot dates they did not learn from.

Two things are decided on them, and neither may look at the holdout.

**The nested choice.** The selection correction (``--correction auto``) and the settings
search (``tune``) are chosen on *inner folds*: the walk-forward folds of a backtest run as
of the holdout's test date t_h. An inner fold tests on a date T with T + H <= t_h (its
label window ended by t_h), its test rows are labelled with what was known on t_h, and its
booster learned from labels known on T. So every choice is a function of what was known
on t_h, like the holdout model itself, and the holdout fold (tested on t_h, scored against
what is known at ``until``) is touched by none of them. Inner folds whose test window
ended by t_h are the strict reading of the contract ("a backtest that tests on day t uses
no outcome recorded after t"): the choice is part of training the model the holdout
tests, so it may use nothing recorded after t_h either; folds merely tested before t_h
would still read outcomes of inspections that also label holdout rows.

**Calibration of the served booster: cross-fitting over time.** The served booster is
fitted on every training date; its calibrator is fitted on the margins the inner-fold
boosters gave the latest training dates, which those boosters had not seen (each learned
only from dates a horizon before the date it scores). The same correction, settings and
seed are used, so the margin scale is that of the served booster meeting a date it has
not seen, which is what serving does. The alternative, holding the latest dates back and
serving the booster fitted without them, would serve a booster a horizon (a year of
snapshots) staler than it need be, and the newest behaviour of sponsors is what matters
most. The price: the inner boosters learned from fewer dates than the served one, so
their margins can be slightly less spread; the tests check the served model's mean
probability against the observed rate on a later slice. The calibration fit is weighted
by the design (1 / inclusion probability where the plan recorded it, else 1), so the
unbiased random slice counts for the population it was drawn from.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import polars as pl

from training.fitting.calibration import CalibrationMethod, fit_calibrator
from training.fitting.dataset import KEY_COLUMNS, TrainingSet
from training.fitting.model import Calibrator, IdentityCalibrator
from training.fitting.models import XGBParams, booster_margin, fit_xgboost
from training.fitting.selection import Correction, design_weights, training_arrays
from training.fitting.splits import TimeFold, prequential_folds

#: How the served booster's calibrator is fitted (model metadata ``calibration_scheme``).
CROSS_FIT = ("cross-fit over time: booster on every training date; calibrator on "
             "out-of-time margins of the latest training dates from boosters (same settings) "
             "that learned only from dates a horizon earlier; design-weighted")
NO_CALIBRATION = "none (no out-of-time margins with both classes): booster's own probability"

PREDICTION_COLUMNS = (*KEY_COLUMNS, "label", "selection", "inclusion_probability")


@dataclass
class OutOfTime:
    """Margins of labelled rows from boosters that had not seen them.

    Attributes:
        known_on: the day whose knowledge labels the scored rows.
        correction: the selection correction the boosters were fitted with.
        folds: the folds that gave margins (train dates, the one test date).
        skipped: folds whose training rows lacked a class (no booster).
        predictions: ``sponsor_id, as_of, label, selection, inclusion_probability,
            margin, score_xgboost`` (the booster's own probability), one row per labelled
            test row of ``folds``.
    """

    known_on: date
    correction: Correction
    folds: list[TimeFold] = field(default_factory=list)
    skipped: list[TimeFold] = field(default_factory=list)
    predictions: pl.DataFrame = field(default_factory=lambda: pl.DataFrame())

    @property
    def empty(self) -> bool:
        return not self.folds

    @property
    def dates(self) -> list[date]:
        return sorted(d for f in self.folds for d in f.test_dates)


def inner_folds(dates: Iterable[date], horizon_months: int, known_on: date,
                n_folds: int) -> list[TimeFold]:
    """The walk-forward folds of a backtest run as of ``known_on``: test dates whose label
    window ended by then, latest last (fewer, or none, where dates are few)."""
    if n_folds < 1:
        return []
    return prequential_folds(dates, horizon_months, known_on, n_folds=n_folds,
                             min_train_dates=1)


def out_of_time_margins(data: TrainingSet, folds: list[TimeFold], known_on: date,
                        correction: Correction, params: XGBParams, seed: int,
                        directions: dict[str, int]) -> OutOfTime:
    """Fit one booster per fold on labels known on the fold's test date and score the
    fold's labelled test rows, labelled as known on ``known_on``."""
    scored = data.known_on(known_on)
    out = OutOfTime(known_on, correction)
    parts: list[pl.DataFrame] = []
    for fold in folds:
        x, y, w = training_arrays(data.known_on(fold.test_dates[0]), fold.train_dates,
                                  correction, seed)
        rows = scored.rows(fold.test_dates)
        if not y.size or y.min() == y.max() or rows.is_empty():
            out.skipped.append(fold)
            continue
        booster = fit_xgboost(x, y, data.feature_names, directions, params, seed, w)
        margin = booster_margin(booster, data.matrix(rows))
        parts.append(rows.select(PREDICTION_COLUMNS).with_columns(
            pl.Series("margin", margin), pl.Series("score_xgboost", 1 / (1 + np.exp(-margin)))))
        out.folds.append(fold)
    if parts:
        out.predictions = pl.concat(parts)
    return out


def fit_out_of_time_calibrator(margins: OutOfTime, method: CalibrationMethod
                               ) -> tuple[Calibrator, dict[str, Any]]:
    """The calibrator of a booster fitted on every training date, from the out-of-time
    margins of its latest training dates (design-weighted), and what the metadata says."""
    if margins.empty:
        return IdentityCalibrator(), {"calibration_scheme": NO_CALIBRATION,
                                      "calibration_dates": [], "calibration_rows": 0}
    rows = margins.predictions
    weights = design_weights(rows)
    y = rows.get_column("label").to_numpy().astype(float)
    calibrator = fit_calibrator(rows.get_column("margin").to_numpy(), y, method,
                                weights / weights.mean())
    info = {
        "calibration_scheme": CROSS_FIT if y.min() != y.max() else NO_CALIBRATION,
        "calibration_dates": [str(d) for d in margins.dates],
        "calibration_rows": rows.height,
        "calibration_design_weighted_rows": int(
            rows.get_column("inclusion_probability").is_not_null().sum()),
        "calibration_boosters": [f.as_dict() for f in margins.folds],
        "calibration_labels_known_on": str(margins.known_on),
    }
    return calibrator, info
