"""Registered models and what their runs logged, read back: the model behind an alias, its
held-out snapshots.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from sponsorwatch.settings import Settings, redact_credentials
from training.fitting.model import RiskModel, load_risk_model
from training.registry.runs import HOLDOUT_ARTIFACT, INFO_FILE, RISK_MODEL_DIR, RISK_MODEL_FILE
from training.registry.tracking import CHALLENGER, CHAMPION, client


@dataclass
class LoadedModel:
    model: RiskModel
    info: dict[str, Any]


def load_model(settings: Settings, alias: str = CHAMPION) -> tuple[RiskModel, dict[str, Any]]:
    """The registered RiskModel behind ``alias`` and its info (name, version, run_id,
    training window, metrics), loaded from the pickled artifact (no pyfunc, no conda).

    Raises:
        LookupError: when no version carries the alias.
    """
    import mlflow.artifacts
    from mlflow.exceptions import MlflowException

    mlflow_client = client(settings)
    try:
        version = mlflow_client.get_model_version_by_alias(settings.model_name, alias)
    except MlflowException as exc:
        raise LookupError(
            f"no version of model {settings.model_name!r} has alias {alias!r} in "
            f"{redact_credentials(settings.tracking_uri)}; run `sponsorwatch train` "
            f"(alias {CHALLENGER}) and "
            f"`sponsorwatch promote` (alias {CHAMPION})") from exc
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(mlflow.artifacts.download_artifacts(
            run_id=version.run_id, artifact_path=RISK_MODEL_DIR, dst_path=tmp,
            tracking_uri=settings.tracking_uri))
        model = load_risk_model((local / RISK_MODEL_FILE).read_bytes())
        info = json.loads((local / INFO_FILE).read_text())
    info.update({"name": settings.model_name, "version": str(version.version),
                 "run_id": version.run_id, "alias": alias,
                 "aliases": list(version.aliases), "tags": dict(version.tags)})
    return model, info


def load_holdout(settings: Settings, run_id: str) -> pl.DataFrame:
    """The labelled held-out snapshots a run was evaluated on."""
    import mlflow.artifacts

    with tempfile.TemporaryDirectory() as tmp:
        path = mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path=HOLDOUT_ARTIFACT, dst_path=tmp,
            tracking_uri=settings.tracking_uri)
        return pl.read_parquet(path)
