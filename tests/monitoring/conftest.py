"""Fixtures of the monitor's tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _own_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each home uses its own MLflow registry (mlflow.set_tracking_uri leaves
    MLFLOW_TRACKING_URI behind, which Settings would prefer)."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
