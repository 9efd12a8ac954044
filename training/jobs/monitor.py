"""A monitoring run: the health report of one scoring snapshot against the champion's
training window (``training.monitoring``), written to ``<home>/monitoring/`` and logged to
MLflow on the champion's model version.

What it reads: the champion (its training snapshots are the reference window), the feature
store (the reference snapshots, the snapshot of the day and of the previous scored day), the
score store (the day's scores, the previous day's, and every earlier one for the outcomes
that have arrived since), the warehouse (deliveries, inspections) and the salary criterion
table.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from sponsorwatch.settings import Settings
from training.monitoring.report import MonitorInputs, Thresholds, monitor_snapshot

MONITORING_EXPERIMENT = "sponsor-risk-monitoring"


def monitoring_dir(settings: Settings) -> Path:
    return settings.home / "monitoring"


def thresholds_of(settings: Settings) -> Thresholds:
    """The alert thresholds of the settings (``monitor_*``)."""
    return Thresholds(
        alpha=settings.monitor_alpha, step_psi=settings.monitor_step_psi,
        reference_psi=settings.monitor_reference_psi,
        drift_warning_psi=settings.monitor_drift_warning_psi,
        null_jump=settings.monitor_null_jump, empty_jump=settings.monitor_empty_jump,
        sector_ratio=settings.monitor_sector_ratio,
        score_step_psi=settings.monitor_score_step_psi,
        min_top_overlap=settings.monitor_min_top_overlap,
        calibration_gap=settings.monitor_calibration_gap,
        calibration_min_sponsors=settings.monitor_calibration_min_sponsors)


@dataclass
class MonitorResult:
    report: dict[str, Any]
    path: Path
    run_id: str | None


def _scores(settings: Settings, day: dt.date) -> pl.DataFrame:
    from training.fitting.scoring import load_score_snapshot

    return load_score_snapshot(settings.scores_dir, day)[0].select("sponsor_id", "as_of",
                                                                   "score")


def gather(settings: Settings, as_of: dt.date, model: Any, info: dict[str, Any]
           ) -> MonitorInputs:
    """Everything the report of ``as_of`` is computed from.

    Raises:
        FileNotFoundError: without a score snapshot of ``as_of``, or without the champion's
            training snapshots in the feature store (naming the command that builds them).
    """
    from features.store import rebuild_commands, scan_snapshots
    from sponsorwatch.storage import scan_warehouse
    from sponsorwatch.thresholds import load_thresholds
    from training.fitting.labels import add_months
    from training.fitting.scoring import score_dates
    from training.jobs.score import snapshot

    days = score_dates(settings.scores_dir)
    if as_of not in days:
        raise FileNotFoundError(
            f"{settings.scores_dir}: no score snapshot as of {as_of}; run "
            f"`sponsorwatch score --as-of {as_of}` first")
    train_dates = sorted(dt.date.fromisoformat(d) for d in
                         (info.get("training_window") or {}).get("train_dates", []))
    if not train_dates:
        raise LookupError(f"model version {info.get('version')} records no training "
                          "snapshots (training_window.train_dates)")
    names = list(model.feature_names)
    try:
        reference = scan_snapshots(settings.features_dir, train_dates).select(
            "sponsor_id", "as_of", *names).collect()
    except FileNotFoundError as exc:
        commands = " and ".join(f"`{c}`" for c in rebuild_commands(train_dates))
        raise FileNotFoundError(f"{exc}; the champion's training window is the reference, "
                                f"build it with {commands}") from exc
    earlier = [d for d in days if d < as_of]
    previous_day = earlier[-1] if earlier else None
    current = snapshot(settings, as_of)
    previous = snapshot(settings, previous_day) if previous_day else None
    since = add_months(as_of, -2 * settings.horizon_months)
    past = pl.concat([_scores(settings, d) for d in days if since <= d <= as_of])
    return MonitorInputs(
        as_of=as_of, previous_as_of=previous_day, features=names, reference=reference,
        current=current, previous=previous,
        reference_scores=reference.select("sponsor_id", "as_of").with_columns(
            score=pl.Series(model.predict(reference), dtype=pl.Float64)),
        scores=_scores(settings, as_of),
        previous_scores=_scores(settings, previous_day) if previous_day else None,
        past_scores=past, tables=scan_warehouse(settings.warehouse_dir),
        thresholds=load_thresholds(settings.thresholds_file),
        horizon_months=settings.horizon_months, capacity=settings.inspection_capacity,
        model_version=str(info.get("version")),
        reference_dates=[str(d) for d in train_dates])


def tracked_metrics(report: dict[str, Any]) -> dict[str, float]:
    """The report's figures as MLflow metrics (``monitor.*``)."""
    summary = report["summary"]
    out = {f"monitor.{k}": float(v) for k, v in summary.items()
           if isinstance(v, int | float) and v is not None}
    out["monitor.alerts"] = float(sum(a["severity"] == "alert" for a in report["alerts"]))
    out["monitor.warnings"] = float(sum(a["severity"] != "alert" for a in report["alerts"]))
    for row in report["features"]:
        if row.get("psi") is not None:
            out[f"monitor.psi.{row['feature']}"] = float(row["psi"])
        if row.get("null_share") is not None:
            out[f"monitor.null_share.{row['feature']}"] = float(row["null_share"])
    for name, entry in report["outcomes"]["metrics"].items():
        if entry.get("measurable"):
            out.update({f"monitor.random.{name}": entry["estimate"],
                        f"monitor.random.{name}.lo": entry["lo"],
                        f"monitor.random.{name}.hi": entry["hi"]})
    delay = report["label_delay"]
    for key in ("known_share", "median_days", "p90_days"):
        if delay.get(key) is not None:
            out[f"monitor.label_delay.{key}"] = float(delay[key])
    return out


def log_report(settings: Settings, report: dict[str, Any], path: Path) -> str:
    """Log the report to MLflow: a run per snapshot in the monitoring experiment, its
    metrics linked to the champion's logged model (MLflow 3 ``model_id``), the report as an
    artifact, and the status on the model version's tags (``monitor.last_as_of``,
    ``monitor.status``, ``monitor.alerts``)."""
    import mlflow

    from training.registry.tracking import client, ensure_experiment, tracking

    mlflow_client = client(settings)
    version = mlflow_client.get_model_version(settings.model_name, report["model_version"])
    model_id = getattr(version, "model_id", None)
    metrics = tracked_metrics(report)
    step = dt.date.fromisoformat(report["as_of"]).toordinal()
    experiment_id = ensure_experiment(settings, MONITORING_EXPERIMENT)
    with tracking(settings), mlflow.start_run(
            experiment_id=experiment_id, run_name=f"monitor-{report['as_of']}",
            tags={"model_name": settings.model_name, "model_version": report["model_version"],
                  "as_of": report["as_of"], "status": report["status"]}) as run:
        mlflow.log_metrics(metrics, step=step, **({"model_id": model_id} if model_id else {}))
        mlflow.log_artifact(str(path), artifact_path="monitoring")
    for key, value in (("monitor.last_as_of", report["as_of"]),
                       ("monitor.status", report["status"]),
                       ("monitor.alerts", str(int(metrics["monitor.alerts"])))):
        mlflow_client.set_model_version_tag(settings.model_name, report["model_version"],
                                            key, value)
    return run.info.run_id


def run_monitor(settings: Settings, as_of: dt.date | None = None, alias: str = "champion",
                log: bool = True) -> MonitorResult:
    """Monitor the score snapshot of ``as_of`` (default: the latest), write its report to
    ``<home>/monitoring/`` and, with ``log``, to MLflow."""
    from training.fitting.scoring import score_dates
    from training.monitoring.store import write_report
    from training.registry.loading import load_model

    if as_of is None:
        days = score_dates(settings.scores_dir)
        if not days:
            raise FileNotFoundError(f"{settings.scores_dir}: no score snapshot; run "
                                    "`sponsorwatch score` first")
        as_of = days[-1]
    model, info = load_model(settings, alias)
    report = monitor_snapshot(gather(settings, as_of, model, info), thresholds_of(settings))
    path = write_report(monitoring_dir(settings), report)
    run_id = log_report(settings, report, path) if log else None
    return MonitorResult(report, path, run_id)
