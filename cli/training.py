"""``sponsorwatch train | promote | score | tune``: learn the risk model, move the champion,
rank every active sponsor with reasons, search XGBoost settings."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from cli.common import settings_of


class CorrectionChoice(StrEnum):
    auto = "auto"
    none = "none"
    ipw = "ipw"
    pu = "pu"


class CalibrationChoice(StrEnum):
    sigmoid = "sigmoid"
    isotonic = "isotonic"


def _day(value: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)",
                                 param_hint=option) from exc


def _fail(message: str) -> None:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


def train(
    ctx: typer.Context,
    until: Annotated[str, typer.Option("--until", help="Training cut-off: label windows and "
                                       "outcomes must end by this day (YYYY-MM-DD)")],
    horizon_months: Annotated[int | None, typer.Option(
        "--horizon-months", min=1, max=60, help="Label horizon H [default: settings]")] = None,
    experiment: Annotated[str, typer.Option("--experiment", help="MLflow experiment")] = (
        "sponsor-risk"),
    truth: Annotated[Path | None, typer.Option(
        "--truth", help="Truth table of a simulated world, for evaluation only "
                        "[default: truth.parquet beside the ingested extract, if any]")] = None,
    correction: Annotated[CorrectionChoice, typer.Option(
        "--correction", help="Selection correction; auto tries each on the same folds and "
                             "keeps the best on RANDOM inspections")] = CorrectionChoice.auto,
    calibration: Annotated[CalibrationChoice, typer.Option(
        "--calibration", help="Calibration map")] = CalibrationChoice.sigmoid,
    folds: Annotated[int, typer.Option("--folds", min=1, max=12,
                                       help="Prequential folds")] = 3,
    params: Annotated[Path | None, typer.Option(
        "--params", help="JSON of XGBoost settings (from `sponsorwatch tune`)")] = None,
    trees: Annotated[int | None, typer.Option("--trees", min=1,
                                              help="Override the number of trees")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="[default: settings]")] = None,
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="Log plots")] = True,
) -> None:
    """Train the XGBoost risk model and its baselines on time folds, log the run to MLflow
    and register the model (alias challenger)."""
    from training.stage import read_params, run_training
    from training.train import TrainConfig

    settings = settings_of(ctx)
    xgb_params = read_params(params)
    if trees is not None:
        xgb_params = xgb_params.with_updates(n_estimators=trees)
    config = TrainConfig(
        until=_day(until, "--until"),
        horizon_months=horizon_months or settings.horizon_months, params=xgb_params,
        seed=settings.seed if seed is None else seed, calibration=calibration.value,
        correction="none" if correction is CorrectionChoice.auto else correction.value,
        n_folds=folds, capacity=settings.inspection_capacity)
    try:
        result, version = run_training(settings, config, experiment=experiment,
                                       truth_path=truth,
                                       compare_corrections=correction is CorrectionChoice.auto,
                                       plots=plots)
    except (FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
        return
    _print_training(result, settings.inspection_capacity)
    typer.echo(f"registered {version.name} version {version.version} (alias challenger), "
               f"run {version.run_id}")


def _print_training(result, capacity: int) -> None:  # noqa: ANN001 - a TrainResult
    from rich.console import Console
    from rich.table import Table

    pooled = result.pooled_metrics()
    table = Table(title=f"pooled over {len(result.folds)} time fold(s); "
                        f"correction {result.config.correction}")
    table.add_column("metric")
    kinds = ("xgboost", "logistic", "crude_rule")
    for kind in kinds:
        table.add_column(kind, justify="right")
    for slice_name in ("labelled", "random", "truth"):
        for metric in (f"precision_at_{capacity}", "average_precision", "brier", "auc_roc"):
            values = [pooled.get(f"{k}.{slice_name}.{metric}") for k in kinds]
            if all(v is None for v in values):
                continue
            table.add_row(f"{slice_name} {metric}",
                          *("-" if v is None else f"{v:.3f}" for v in values))
    Console().print(table)
    for name, metrics in result.correction_comparison.items():
        typer.echo(f"correction {name}: random AP "
                   f"{metrics.get('xgboost.random.average_precision', float('nan')):.3f}, "
                   f"labelled AP "
                   f"{metrics.get('xgboost.labelled.average_precision', float('nan')):.3f}")


def promote(
    ctx: typer.Context,
    force: Annotated[bool, typer.Option("--force", help="Promote even when a gate fails")] = (
        False),
    reason: Annotated[str | None, typer.Option(
        "--reason", help="Why (required with --force; recorded on the version)")] = None,
) -> None:
    """Move the champion alias to the challenger when it beats the champion on the same
    held-out data (precision at capacity) and passes every other gate."""
    from training.registry import promote as run_promote

    settings = settings_of(ctx)
    try:
        decision = run_promote(settings, force=force, reason=reason)
    except (LookupError, ValueError) as exc:
        _fail(str(exc))
        return
    typer.echo(decision.summary())
    if not decision.promoted:
        raise typer.Exit(1)


def score(
    ctx: typer.Context,
    as_of: Annotated[str, typer.Option("--as-of", help="Score sponsors active on this day")],
    model_alias: Annotated[str, typer.Option("--model-alias", help="Registry alias")] = (
        "champion"),
    out: Annotated[Path | None, typer.Option(
        "--out", help="Also write the table here (.csv with reasons as text, or .parquet)")] = (
        None),
) -> None:
    """Rank every active sponsor by risk with its top reasons; write
    <home>/scores/as_of=DATE/scores.parquet (and --out)."""
    from training.stage import run_scoring

    settings = settings_of(ctx)
    try:
        table, path, info = run_scoring(settings, _day(as_of, "--as-of"), model_alias, out)
    except (LookupError, FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
        return
    typer.echo(f"scored {table.height} sponsors as of {as_of} with {info['name']} "
               f"v{info['version']} ({model_alias}); written to {path}"
               + (f" and {out}" if out else ""))


def tune(
    ctx: typer.Context,
    until: Annotated[str, typer.Option("--until", help="Training cut-off (YYYY-MM-DD)")],
    trials: Annotated[int, typer.Option("--trials", min=1, help="Optuna trials")] = 20,
    horizon_months: Annotated[int | None, typer.Option("--horizon-months", min=1,
                                                       max=60)] = None,
    experiment: Annotated[str, typer.Option("--experiment")] = "sponsor-risk-tuning",
    folds: Annotated[int, typer.Option("--folds", min=1, max=12)] = 3,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Best settings as JSON [default: <home>/tuning/best_params.json]")] = None,
) -> None:
    """Search XGBoost settings with optuna on time folds; each trial is a nested MLflow run.
    Train with the result: `sponsorwatch train --params FILE`."""
    from training.tune import run_tuning

    settings = settings_of(ctx)
    try:
        best, path = run_tuning(settings, _day(until, "--until"), trials,
                                horizon_months or settings.horizon_months, experiment, folds,
                                out)
    except (FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
        return
    typer.echo(f"best settings {best} written to {path}")


def register(app: typer.Typer) -> None:
    app.command(name="train")(train)
    app.command(name="promote")(promote)
    app.command(name="score")(score)
    app.command(name="tune")(tune)
