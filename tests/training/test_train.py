"""Training on hand-made data: it learns the planted signal, honours the time gap, and the
same seed on the same data gives the same metrics to the last digit."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hand_world import HAND_DESCRIPTIONS, HAND_DIRECTIONS, HAND_UNTIL, hand_world

from training.fitting.dataset import TrainingSet, assemble
from training.fitting.labels import add_months
from training.fitting.models import XGBParams
from training.fitting.train import TrainConfig, train_and_evaluate

FAST = XGBParams(n_estimators=40)


@pytest.fixture(scope="module")
def result(hand_data: TrainingSet):
    config = TrainConfig(until=HAND_UNTIL, params=FAST, n_folds=2)
    return train_and_evaluate(hand_data, config, HAND_DESCRIPTIONS, HAND_DIRECTIONS,
                              compare_corrections=True)


def test_model_finds_the_planted_signal(result) -> None:
    pooled = result.pooled_metrics()
    assert pooled["xgboost.labelled.auc_roc"] > 0.7
    assert pooled["xgboost.random.average_precision"] > 2 * pooled["xgboost.random.base_rate"]
    importance = result.model.importance()
    assert importance["wage_gap"] > importance["noise"]


def test_folds_keep_a_horizon_between_training_and_test(result) -> None:
    for fold in result.folds:
        assert max(fold.fold.train_dates) <= add_months(fold.fold.test_dates[0], -12)
        assert add_months(fold.fold.test_dates[-1], 12) <= HAND_UNTIL
    assert result.model.metadata["train_dates"][-1] == str(
        max(result.holdout.fold.train_dates))


def test_every_correction_is_compared_and_the_best_on_random_kept(result) -> None:
    comparison = result.correction_comparison
    assert set(comparison) == {"none", "ipw", "pu"}
    kept = comparison[result.config.correction]["xgboost.random.average_precision"]
    assert kept == max(c["xgboost.random.average_precision"] for c in comparison.values())


def test_calibrated_scores_are_probabilities_near_the_observed_rate(result) -> None:
    rows = result.holdout.predictions.filter(result.holdout.predictions["label"].is_not_null())
    scores = rows["score_xgboost"].to_numpy()
    assert ((scores > 0) & (scores < 1)).all()
    assert abs(scores.mean() - rows["label"].mean()) < 0.1


def test_same_seed_same_data_same_metrics_to_the_last_digit() -> None:
    def run() -> tuple[dict[str, float], bytes]:
        features, inspections = hand_world(seed=11, sponsors=300)
        data = assemble(features, inspections, ["wage_gap", "company_age", "noise"], 12,
                        HAND_UNTIL)
        res = train_and_evaluate(data, TrainConfig(until=HAND_UNTIL, params=FAST, n_folds=2),
                                 HAND_DESCRIPTIONS, HAND_DIRECTIONS)
        return res.pooled_metrics(), bytes(res.model.booster.save_raw("json"))

    first, second = run(), run()
    assert first[1] == second[1]
    assert first[0].keys() == second[0].keys()
    for key, value in first[0].items():
        other = second[0][key]
        assert (np.isnan(value) and np.isnan(other)) or value == other, key


def test_risk_model_pickles_and_predicts_the_same(result, hand_data: TrainingSet) -> None:
    rows = hand_data.rows(hand_data.dates[-1:], labelled_only=False)
    clone = pickle.loads(pickle.dumps(result.model))
    assert np.array_equal(clone.predict(rows), result.model.predict(rows))


def test_reasons_are_the_largest_positive_contributions(result,
                                                         hand_data: TrainingSet) -> None:
    rows = hand_data.rows(hand_data.dates[-1:], labelled_only=False).head(50)
    contribs = result.model.contributions(rows)
    margin = result.model.margin(rows)
    assert np.allclose(contribs.sum(axis=1), margin, atol=1e-4)
    for row, reasons in enumerate(result.model.explain(rows, top=2)):
        pushes = sorted((c for c in contribs[row, :-1] if c > 0), reverse=True)[:2]
        assert [r.contribution for r in reasons] == pytest.approx(pushes, abs=1e-6)
        for reason in reasons:
            assert reason.description == HAND_DESCRIPTIONS[reason.feature]
            assert reason.value == pytest.approx(rows[reason.feature][row])
