"""One training as an MLflow run: parameters, metrics per fold, plots, the pickled model
and its pyfunc twin, registered with alias ``challenger``.
"""

from __future__ import annotations

import json
import os
import pickle
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from sponsorwatch.settings import Settings
from training.registry.tracking import (
    CHALLENGER,
    RegisteredVersion,
    client,
    ensure_experiment,
    finite_metrics,
    git_commit,
    tracking,
)

if TYPE_CHECKING:
    from training.fitting.train import TrainResult

RISK_MODEL_DIR = "risk_model"


RISK_MODEL_FILE = "risk_model.pkl"


INFO_FILE = "info.json"


HOLDOUT_ARTIFACT = "evaluation/holdout.parquet"


ESTIMATES_ARTIFACT = "evaluation/estimates.json"


#: The last estimates computed, with the predictions they came from (a training run asks
#: twice: for the run's info and for the model card).
_last_estimates: list[tuple[pl.DataFrame, dict[str, Any]]] = []


def holdout_estimates_of(result: TrainResult) -> dict[str, Any]:
    """The served model's estimates with 95 % intervals on the holdout fold: RANDOM slice
    metrics (k = the configured ks and the capacity), the population violation rate and the
    calibration evidence the sponsor page quotes (``training.fitting.intervals``)."""
    from training.fitting.intervals import holdout_estimates

    predictions = result.holdout.predictions
    if _last_estimates and _last_estimates[0][0] is predictions:
        return _last_estimates[0][1]
    ks = sorted({*result.config.ks, result.config.capacity})
    estimates = holdout_estimates(predictions, ks, result.config.seed)
    _last_estimates[:] = [(predictions, estimates)]
    return estimates


def model_info_payload(result: TrainResult, feature_set_version: str,
                       data_manifest: dict[str, Any]) -> dict[str, Any]:
    """What :func:`load_model` hands to serving besides the model. ``data.holdout_estimates``
    carries the estimates with intervals and the calibration evidence, so the service (and
    the model card built from this payload) reads them without MLflow."""
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
        "metrics": finite_metrics({k: v for k, v in holdout.metrics.items()
                            if k.startswith("xgboost.")}),
        "data": {**{k: data_manifest.get(k) for k in ("rows", "labelled_rows", "positive_rows",
                                                      "random_labelled_rows", "sponsors")},
                 "holdout_estimates": holdout_estimates_of(result)},
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

    from training.registry.pyfunc import RISK_MODEL_ARTIFACT, RiskModelPyfunc, predict_with_reasons

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
            mlflow.log_metrics(finite_metrics({f"fold.{k}": v for k, v in fold.metrics.items()}),
                               step=step)
        mlflow.log_metrics(finite_metrics({f"pooled.{k}": v
                                    for k, v in result.pooled_metrics().items()}))
        mlflow.log_metrics(finite_metrics({f"holdout.{k}": v
                                    for k, v in result.holdout.metrics.items()}))
        for correction, metrics in result.correction_comparison.items():
            mlflow.log_metrics(finite_metrics({f"correction.{correction}.{k}": v
                                        for k, v in metrics.items()}))
        if result.correction_comparison:
            mlflow.log_dict(result.correction_comparison, "evaluation/corrections.json")
        _log_estimates(info["data"]["holdout_estimates"])
        if plots:
            from training.fitting.plots import write_training_plots

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
            code_paths=[str(Path(__file__).resolve().parents[1])],  # the training package
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


def _log_estimates(estimates: dict[str, Any]) -> None:
    """The holdout estimates as a JSON artifact (methods, rows, reasons for what is not
    measurable) and, where measurable, as metrics ``interval.<model>.random.<metric>`` and
    ``interval.population_violation_rate``, each with ``.lo`` and ``.hi``."""
    import mlflow

    from training.fitting.intervals import flat_metrics

    mlflow.log_dict(estimates, ESTIMATES_ARTIFACT)
    mlflow.log_metrics(finite_metrics(flat_metrics(estimates)))
    mlflow.log_params({"interval_level": estimates["level"],
                       "interval_bootstrap_resamples": estimates["bootstrap"]["resamples"],
                       "interval_min_evidence": estimates["calibration_evidence"]["min_inspected"]})


def _pip_requirements() -> list[str]:
    """Pinned to the training environment so the pyfunc loads the same libraries (listed,
    not inferred: inference would load the model in a subprocess and cost seconds)."""
    from importlib.metadata import version

    return [f"{pkg}=={version(pkg)}" for pkg in
            ("mlflow", "xgboost", "polars", "pandas", "numpy", "scikit-learn", "pyarrow")]
