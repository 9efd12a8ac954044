"""MLflow plumbing: one run per training, the model registered as ``sponsor-risk`` with the
alias ``challenger``, the promotion gate that moves ``champion``, and a fast loader for
serving.

mlflow is imported inside functions only: serving imports :func:`load_model`'s module at
start-up and must not pay for mlflow until it loads a model.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from sponsorwatch.settings import Settings
from training.fairness import fairness_gate
from training.metrics import precision_at_k
from training.model import RiskModel

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from training.train import TrainResult

CHALLENGER = "challenger"
CHAMPION = "champion"
RISK_MODEL_DIR = "risk_model"
RISK_MODEL_FILE = "risk_model.pkl"
INFO_FILE = "info.json"
HOLDOUT_ARTIFACT = "evaluation/holdout.parquet"
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


def _finite(metrics: dict[str, float]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if v is not None and np.isfinite(v)}


def model_info_payload(result: TrainResult, feature_set_version: str,
                       data_manifest: dict[str, Any]) -> dict[str, Any]:
    """What :func:`load_model` hands to serving besides the model."""
    holdout = result.holdout
    return {
        "training_window": {
            "until": str(result.config.until),
            "horizon_months": result.config.horizon_months,
            "train_dates": result.model.metadata.get("train_dates", []),
            "holdout_dates": [str(d) for d in holdout.fold.test_dates],
        },
        "feature_set_version": feature_set_version,
        "feature_names": result.model.feature_names,
        "correction": result.config.correction,
        "metrics": _finite({k: v for k, v in holdout.metrics.items()
                            if k.startswith("xgboost.")}),
        "data": {k: data_manifest.get(k) for k in ("rows", "labelled_rows", "positive_rows",
                                                   "random_labelled_rows", "sponsors")},
    }


def log_training_run(settings: Settings, result: TrainResult, *, experiment: str,
                     feature_set_version: str, data_manifest: dict[str, Any],
                     holdout_rows: pl.DataFrame, plots: bool = True,
                     register: bool = True) -> RegisteredVersion:
    """Log one training as an MLflow run and register its model with alias ``challenger``.

    The run holds the parameters, the data manifest and feature-set version, the git
    commit, metrics per fold (step = fold number) and pooled over folds and on the holdout,
    the correction comparison, plots, the pickled RiskModel (the fast path) and the pyfunc
    model with signature and input example.
    """
    import mlflow

    from training.pyfunc import RISK_MODEL_ARTIFACT, RiskModelPyfunc, predict_with_reasons

    experiment_id = ensure_experiment(settings, experiment)
    info = model_info_payload(result, feature_set_version, data_manifest)
    project_run = os.environ.get("MLFLOW_RUN_ID")  # set by `mlflow run`; tracking() hides it
    with tracking(settings), mlflow.start_run(experiment_id=experiment_id,
                          run_name=f"train-until-{result.config.until}") as run, \
            tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        mlflow.log_params(result.config.as_params())
        if project_run:
            mlflow.set_tag("mlflow_project_run_id", project_run)
        mlflow.set_tags({"git_commit": git_commit(), "feature_set_version": feature_set_version,
                         "model_name": settings.model_name, "train_until": str(result.config.until),
                         "selection_correction": result.config.correction})
        mlflow.log_dict(data_manifest, "data/manifest.json")
        mlflow.log_dict([f.fold.as_dict() for f in result.folds], "data/folds.json")
        for step, fold in enumerate(result.folds):
            mlflow.log_metrics(_finite({f"fold.{k}": v for k, v in fold.metrics.items()}),
                               step=step)
        mlflow.log_metrics(_finite({f"pooled.{k}": v
                                    for k, v in result.pooled_metrics().items()}))
        mlflow.log_metrics(_finite({f"holdout.{k}": v
                                    for k, v in result.holdout.metrics.items()}))
        for correction, metrics in result.correction_comparison.items():
            mlflow.log_metrics(_finite({f"correction.{correction}.{k}": v
                                        for k, v in metrics.items()}))
        if result.correction_comparison:
            mlflow.log_dict(result.correction_comparison, "evaluation/corrections.json")
        if plots:
            from training.plots import write_training_plots

            mlflow.log_artifacts(str(write_training_plots(result, holdout_rows, tmp / "plots")),
                                 "plots")

        model_dir = tmp / RISK_MODEL_DIR
        model_dir.mkdir()
        with open(model_dir / RISK_MODEL_FILE, "wb") as handle:
            pickle.dump(result.model, handle, protocol=pickle.HIGHEST_PROTOCOL)
        (model_dir / INFO_FILE).write_text(json.dumps({**info, "run_id": run.info.run_id},
                                                      indent=2, default=str))
        mlflow.log_artifacts(str(model_dir), RISK_MODEL_DIR)
        holdout_path = tmp / "holdout.parquet"
        holdout_rows.write_parquet(holdout_path)
        mlflow.log_artifact(str(holdout_path), "evaluation")

        example = holdout_rows.select(result.model.feature_names).head(3).to_pandas()
        signature = mlflow.models.infer_signature(
            example, predict_with_reasons(result.model, example))
        logged = mlflow.pyfunc.log_model(
            name="model", python_model=RiskModelPyfunc(),
            artifacts={RISK_MODEL_ARTIFACT: str(model_dir / RISK_MODEL_FILE)},
            signature=signature, input_example=example,
            code_paths=[str(Path(__file__).resolve().parent)],
            pip_requirements=_pip_requirements())
        if not register:
            return RegisteredVersion(settings.model_name, "", run.info.run_id)
        version = mlflow.register_model(logged.model_uri, settings.model_name,
                                        tags={"run_id": run.info.run_id,
                                              "train_until": str(result.config.until)})
        mlflow_client = client(settings)
        mlflow_client.set_registered_model_alias(settings.model_name, CHALLENGER,
                                                 version.version)
        mlflow.set_tag("registered_version", version.version)
        return RegisteredVersion(settings.model_name, str(version.version), run.info.run_id)


def _pip_requirements() -> list[str]:
    """Pinned to the training environment so the pyfunc loads the same libraries (listed,
    not inferred: inference would load the model in a subprocess and cost seconds)."""
    from importlib.metadata import version

    return [f"{pkg}=={version(pkg)}" for pkg in
            ("mlflow", "xgboost", "polars", "pandas", "numpy", "scikit-learn", "pyarrow")]


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
            f"{settings.tracking_uri}; run `sponsorwatch train` (alias {CHALLENGER}) and "
            f"`sponsorwatch promote` (alias {CHAMPION})") from exc
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(mlflow.artifacts.download_artifacts(
            run_id=version.run_id, artifact_path=RISK_MODEL_DIR, dst_path=tmp,
            tracking_uri=settings.tracking_uri))
        with open(local / RISK_MODEL_FILE, "rb") as handle:
            model: RiskModel = pickle.load(handle)
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


# --- promotion -------------------------------------------------------------------------

@dataclass(frozen=True)
class GateResult:
    """One gate's verdict with the numbers behind it."""

    gate: str
    passed: bool
    message: str
    numbers: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GateContext:
    """What a gate may look at: both models and the challenger's held-out snapshots."""

    settings: Settings
    challenger: LoadedModel
    champion: LoadedModel | None
    holdout: pl.DataFrame


Gate = Callable[[GateContext], GateResult]


def beats_champion(ctx: GateContext) -> GateResult:
    """The challenger's precision at capacity (``settings.inspection_capacity``, or half the
    rows where fewer are labelled) on its labelled held-out snapshots must exceed the
    champion's on the very same rows."""
    labelled = ctx.holdout.filter(pl.col("label").is_not_null())
    # With fewer labelled held-out rows than the capacity, precision at capacity is the base
    # rate for every model; half the rows is the deepest cut that still tells models apart.
    capacity = ctx.settings.inspection_capacity
    k = min(capacity, max(1, labelled.height // 2))
    y = labelled.get_column("label").cast(pl.Float64).to_numpy()
    challenger_p = precision_at_k(y, ctx.challenger.model.predict(labelled), k)
    numbers: dict[str, Any] = {"k": k, "capacity": capacity, "holdout_rows": labelled.height,
                               "challenger_version": ctx.challenger.info["version"],
                               "challenger_precision_at_k": challenger_p}
    if ctx.champion is None:
        return GateResult("beats_champion", True,
                          f"no champion yet; challenger precision@{k} {challenger_p:.3f}",
                          numbers)
    if ctx.champion.info["version"] == ctx.challenger.info["version"]:
        return GateResult("beats_champion", False,
                          f"version {ctx.challenger.info['version']} is already champion",
                          numbers)
    missing = [f for f in ctx.champion.model.feature_names if f not in labelled.columns]
    if missing:
        return GateResult("beats_champion", False,
                          f"the champion needs feature(s) {missing} that the challenger's "
                          "held-out data lacks; compare by hand and use --force --reason",
                          numbers)
    champion_p = precision_at_k(y, ctx.champion.model.predict(labelled), k)
    numbers.update({"champion_version": ctx.champion.info["version"],
                    "champion_precision_at_k": champion_p})
    verdict = "beats" if challenger_p > champion_p else "does not beat"
    return GateResult(
        "beats_champion", challenger_p > champion_p,
        f"challenger v{ctx.challenger.info['version']} precision@{k} {challenger_p:.3f} "
        f"{verdict} champion v{ctx.champion.info['version']} {champion_p:.3f} on the same "
        f"{labelled.height} held-out labelled snapshots", numbers)


#: Every gate a challenger must pass to become champion, in order. The fairness gate of
#: issue 8 is appended here (a function ``GateContext -> GateResult``).
PROMOTION_GATES: list[Gate] = [beats_champion, fairness_gate]


@dataclass(frozen=True)
class PromotionDecision:
    promoted: bool
    version: str
    forced: bool
    results: list[GateResult]

    def summary(self) -> str:
        lines = [f"{'PASS' if r.passed else 'FAIL'} {r.gate}: {r.message}" for r in self.results]
        head = (f"promoted version {self.version} to {CHAMPION}"
                + (" (forced)" if self.forced else "")) if self.promoted else (
            f"refused to promote version {self.version}")
        return "\n".join([head, *lines])


def promote(settings: Settings, *, force: bool = False, reason: str | None = None,
            gates: list[Gate] | None = None) -> PromotionDecision:
    """Move ``champion`` to the current ``challenger`` when every gate passes, or when
    forced with a reason (recorded as tags on the version).

    Raises:
        ValueError: on ``force`` without a reason.
        LookupError: when there is no challenger.
    """
    if force and not (reason and reason.strip()):
        raise ValueError("--force needs --reason TEXT: the reason is recorded on the version")
    challenger_model, challenger_info = load_model(settings, CHALLENGER)
    try:
        champion_model, champion_info = load_model(settings, CHAMPION)
        champion: LoadedModel | None = LoadedModel(champion_model, champion_info)
    except LookupError:
        champion = None
    ctx = GateContext(settings, LoadedModel(challenger_model, challenger_info), champion,
                      load_holdout(settings, challenger_info["run_id"]))
    results = [gate(ctx) for gate in (PROMOTION_GATES if gates is None else gates)]
    passed = all(r.passed for r in results)
    version = challenger_info["version"]
    decision = PromotionDecision(passed or force, version, force and not passed, results)
    mlflow_client = client(settings)
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    mlflow_client.set_model_version_tag(settings.model_name, version, "promotion_gates",
                                        json.dumps([r.__dict__ for r in results], default=str))
    if decision.promoted:
        mlflow_client.set_registered_model_alias(settings.model_name, CHAMPION, version)
        mlflow_client.set_model_version_tag(settings.model_name, version, "promoted_at", stamp)
        if champion is not None:
            mlflow_client.set_model_version_tag(settings.model_name, version,
                                                "previous_champion", champion.info["version"])
    if force:
        mlflow_client.set_model_version_tag(settings.model_name, version, "promotion_forced",
                                            "true")
        mlflow_client.set_model_version_tag(settings.model_name, version, "promotion_reason",
                                            reason or "")
    return decision
