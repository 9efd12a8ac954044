"""Settings search: seeded, on the training folds, returns settings in the search space."""

from __future__ import annotations

from hand_world import HAND_DIRECTIONS, HAND_UNTIL

from training.fitting.dataset import TrainingSet
from training.fitting.models import XGBParams
from training.fitting.train import TrainConfig
from training.fitting.tune import tune


def test_tune_is_seeded_and_logs_every_trial(hand_data: TrainingSet) -> None:
    config = TrainConfig(until=HAND_UNTIL, params=XGBParams(n_estimators=20), n_folds=1)
    logged: list[int] = []

    def log_trial(number: int, params: XGBParams, metrics: dict[str, float]) -> None:
        assert "xgboost.labelled.average_precision" in metrics
        logged.append(number)

    first = tune(hand_data, config, HAND_DIRECTIONS, 2, log_trial)
    second = tune(hand_data, config, HAND_DIRECTIONS, 2)
    assert logged == [0, 1]
    assert first == second
    best, value = first
    assert 2 <= best.max_depth <= 7 and 0 < value <= 1
    assert best.nthread == config.params.nthread
