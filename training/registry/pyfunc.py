"""The MLflow pyfunc face of a :class:`~training.fitting.model.RiskModel`: feature rows in,
calibrated scores with their reasons out. Imports mlflow, so only the registry imports it
(never serving, which loads the pickled RiskModel directly)."""

from __future__ import annotations

import json
from typing import Any

import mlflow.pyfunc
import pandas as pd
import polars as pl

from training.fitting.model import RiskModel, load_risk_model

#: Name of the pickled RiskModel inside the logged model's artifacts.
RISK_MODEL_ARTIFACT = "risk_model"
REASONS_PER_ROW = 5


class RiskModelPyfunc(mlflow.pyfunc.PythonModel):
    """Returns one row per input row: ``score`` (calibrated probability) and ``reasons``
    (JSON list of {feature, value, contribution, description}, strongest first)."""

    def load_context(self, context: Any) -> None:
        with open(context.artifacts[RISK_MODEL_ARTIFACT], "rb") as handle:
            self.model: RiskModel = load_risk_model(handle.read())

    def predict(self, context: Any, model_input: pd.DataFrame,
                params: dict[str, Any] | None = None) -> pd.DataFrame:
        return predict_with_reasons(self.model, model_input)


def predict_with_reasons(model: RiskModel, rows: pd.DataFrame) -> pd.DataFrame:
    """Scores and reasons of feature rows given as a pandas frame (pyfunc's currency)."""
    frame = pl.from_pandas(rows[model.feature_names].astype("float64"))
    scores = model.predict(frame)
    reasons = model.explain(frame, top=REASONS_PER_ROW)
    return pd.DataFrame({
        "score": scores,
        "reasons": [json.dumps([r.as_dict() for r in row]) for row in reasons],
    })
