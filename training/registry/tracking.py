"""Where MLflow keeps runs and models for a home: a client, the fluent API pointed at the
home's store for a block, experiments, and the source commit of a run.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sponsorwatch.settings import Settings

if TYPE_CHECKING:
    from mlflow import MlflowClient

CHALLENGER = "challenger"


CHAMPION = "champion"


DEFAULT_EXPERIMENT = "sponsor-risk"


@dataclass(frozen=True)
class RegisteredVersion:
    name: str
    version: str
    run_id: str


def client(settings: Settings) -> MlflowClient:
    """An MLflow client on the settings' tracking store (SQLite under home by default).
    Touches no process-wide MLflow state."""
    from mlflow import MlflowClient

    # Artifact download bars would litter a server's log at every model load.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    settings.home.mkdir(parents=True, exist_ok=True)
    return MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.tracking_uri)


@contextmanager
def tracking(settings: Settings) -> Iterator[None]:
    """Point MLflow's fluent API (start_run, log_*) at the settings' store for the block.

    ``mlflow.set_tracking_uri`` also writes MLFLOW_TRACKING_URI into the environment, which
    :attr:`Settings.tracking_uri` honours; left in place, every later Settings in the process
    (another home in a test, a server) would silently log to this store. So the previous
    URIs and environment are put back on exit.
    """
    import mlflow

    saved_env = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI",
                                                 "MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID")}
    saved_tracking = mlflow.get_tracking_uri() if saved_env["MLFLOW_TRACKING_URI"] else None
    uri = settings.tracking_uri
    settings.home.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    # Under `mlflow run` these name the project's run; start_run would resume it instead of
    # starting the training run in its own experiment.
    os.environ.pop("MLFLOW_RUN_ID", None)
    os.environ.pop("MLFLOW_EXPERIMENT_ID", None)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(saved_tracking)  # type: ignore[arg-type] - None unsets
        mlflow.set_registry_uri(saved_env["MLFLOW_REGISTRY_URI"])  # type: ignore[arg-type]
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def ensure_experiment(settings: Settings, name: str) -> str:
    """The experiment's id, creating it with artifacts under the home when the tracking
    store is the local default (so a run never writes into the working directory)."""
    mlflow_client = client(settings)
    existing = mlflow_client.get_experiment_by_name(name)
    if existing is not None:
        return existing.experiment_id
    location = None
    if settings.tracking_uri.startswith("sqlite:"):
        location = (settings.home / "mlartifacts").resolve().as_uri()
    return mlflow_client.create_experiment(name, artifact_location=location)


def git_commit() -> str:
    """The source commit the run was trained with ("unknown" outside a git checkout)."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=10, cwd=Path(__file__).resolve().parent, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10,
                               cwd=Path(__file__).resolve().parent).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def finite_metrics(metrics: dict[str, float]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if v is not None and np.isfinite(v)}
