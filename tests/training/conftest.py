"""Fixtures of the training tests."""

from __future__ import annotations

import pytest
from hand_world import HAND_FEATURES, HAND_UNTIL, hand_world

from training.fitting.dataset import TrainingSet, assemble


@pytest.fixture(scope="session")
def hand_data() -> TrainingSet:
    features, inspections = hand_world()
    return assemble(features, inspections, HAND_FEATURES, 12, HAND_UNTIL)
