"""A training run end to end: the training set from the feature store and the warehouse,
fitting and evaluation, the MLflow run and registration, the fairness audit and model card.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import date
from pathlib import Path
from typing import Any

from sponsorwatch.settings import Settings
from training.fitting.dataset import TrainingSet, assemble
from training.fitting.feature_meta import FeatureMeta, feature_meta
from training.fitting.models import XGBParams
from training.fitting.train import TrainConfig, TrainResult, train_and_evaluate


def read_params(path: Path | None) -> XGBParams:
    """XGBoost settings from a JSON file (as written by ``sponsorwatch tune``), or defaults.

    Raises:
        ValueError: naming the file and any key that is not a setting.
    """
    if path is None:
        return XGBParams()
    payload = json.loads(path.read_text(encoding="utf-8"))
    known = set(XGBParams.__dataclass_fields__)
    unknown = sorted(set(payload) - known)
    if unknown:
        raise ValueError(f"{path}: unknown XGBoost setting(s) {unknown}; known: {sorted(known)}")
    return XGBParams(**payload)


def load_training_set(settings: Settings, until: date, horizon_months: int,
                      meta: FeatureMeta) -> TrainingSet:
    """Snapshots of the feature store with labels from the warehouse's inspections.

    Raises:
        FileNotFoundError: when the warehouse or the feature store is empty, saying which
            command fills it.
        features.store.StaleSnapshotsError: when a stored snapshot was built from another
            warehouse state or feature set, naming the ``sponsorwatch features`` command
            that rebuilds it (rebuilding dozens of snapshots unasked would surprise).
    """
    from features.store import check_snapshots, scan_snapshots, snapshot_manifest
    from sponsorwatch.storage import scan_warehouse

    warehouse = settings.warehouse_dir.resolve()  # one state, whatever ingest does meanwhile
    tables = scan_warehouse(warehouse)
    if "inspections" not in tables:
        raise FileNotFoundError(f"{settings.warehouse_dir}: no inspections table: nothing to "
                                "learn from")
    features = scan_snapshots(settings.features_dir)
    check_snapshots(settings.features_dir, snapshot_manifest(warehouse, settings.use_sector))
    return assemble(features, tables["inspections"], meta.names, horizon_months, until)


def data_manifest(settings: Settings, data: TrainingSet, meta: FeatureMeta) -> dict[str, Any]:
    """What the run learned from: counts, snapshot dates, the warehouse and store manifests
    and a fingerprint of the training frame."""
    from features.store import read_store_manifest
    from sponsorwatch.storage import read_manifest

    fingerprint = hashlib.sha256(
        data.frame.hash_rows(seed=0).to_numpy().tobytes()).hexdigest()[:16]
    store = read_store_manifest(settings.features_dir)
    return {
        **data.summary(),
        "feature_set_version": meta.version,
        "feature_names": meta.names,
        "training_frame_sha256_16": fingerprint,
        "warehouse_manifest": read_manifest(settings.warehouse_dir),
        "feature_store": {k: v for k, v in store.items() if k != "warehouse_manifest"},
    }


def run_training(settings: Settings, config: TrainConfig, *, experiment: str,
                 truth_path: Path | None = None, compare_corrections: bool = False,
                 plots: bool = True, log: bool = True,
                 timings: dict[str, float] | None = None) -> tuple[TrainResult, Any]:
    """Assemble, train and evaluate, log to MLflow and register (alias challenger), then
    audit fairness and write the model card into the same run.

    Args:
        timings: filled with wall seconds per step when given (``assemble``, ``fit``,
            ``mlflow``, ``fairness_and_card``) and CPU seconds (``<step>_cpu``).

    Returns:
        The result and the registered version (None when ``log`` is off).
    """
    from training.fitting.evaluation import find_truth, load_truth

    clock = _Clock(timings)
    meta = feature_meta(settings.use_sector)
    data = load_training_set(settings, config.until, config.horizon_months, meta)
    truth_file = find_truth(settings.warehouse_dir, truth_path)
    truth = load_truth(truth_file) if truth_file is not None else None
    clock.lap("assemble")
    result = train_and_evaluate(data, config, meta.descriptions, meta.directions, truth,
                                compare_corrections)
    clock.lap("fit")
    if not log:
        return result, None
    from training.registry.runs import log_training_run

    manifest = data_manifest(settings, data, meta)
    manifest["truth_file"] = str(truth_file) if truth_file else None
    # Knowledge times, the nested choice (inner folds, the untouched holdout), the
    # calibration scheme and where the ipw weights came from: logged with the manifest.
    manifest["honest_learning"] = result.honesty()
    holdout_rows = data.rows(result.holdout.fold.test_dates)
    version = log_training_run(settings, result, experiment=experiment,
                               feature_set_version=meta.version, data_manifest=manifest,
                               holdout_rows=holdout_rows, plots=plots)
    clock.lap("mlflow")
    from training.jobs.documentation import document_training_run
    from training.registry.tracking import tracking

    with tracking(settings):  # the fairness audit and model card join the same run
        document_training_run(settings, result, data, meta, version, manifest)
    clock.lap("fairness_and_card")
    return result, version


class _Clock:
    """Wall and CPU seconds of this process per step, into ``timings`` when given (CPU as
    ``<step>_cpu``: on a busy shared machine it is the steadier measure)."""

    def __init__(self, timings: dict[str, float] | None) -> None:
        self.timings = timings
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def lap(self, step: str) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        if self.timings is not None:
            self.timings[step] = round(wall - self.wall, 2)
            self.timings[f"{step}_cpu"] = round(cpu - self.cpu, 2)
        self.wall, self.cpu = wall, cpu
