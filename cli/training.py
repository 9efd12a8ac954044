"""``sponsorwatch train | promote | score | tune``: learn the risk model, move the champion,
rank every active sponsor with reasons, search XGBoost settings."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from cli.common import DAY, parse_day, settings_of


class CorrectionChoice(StrEnum):
    auto = "auto"
    none = "none"
    ipw = "ipw"
    pu = "pu"


class CalibrationChoice(StrEnum):
    sigmoid = "sigmoid"
    isotonic = "isotonic"


def _fail(message: str) -> None:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


def train(
    ctx: typer.Context,
    until: Annotated[str, typer.Option(
        "--until", metavar=DAY,
        help="Training cut-off: label windows and outcomes must end by this day")],
    horizon_months: Annotated[int | None, typer.Option(
        "--horizon-months", min=1, max=60,
        help="Label horizon H in months [default: the settings' horizon]")] = None,
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
        "--params", help="JSON of XGBoost settings (from `sponsorwatch tune`) "
                         "[default: the built-in settings]")] = None,
    trees: Annotated[int | None, typer.Option(
        "--trees", min=1, help="Override the number of trees [default: from --params]")] = None,
    seed: Annotated[int | None, typer.Option(
        "--seed", help="Random seed [default: the settings' seed]")] = None,
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="Log plots")] = True,
) -> None:
    """Train the XGBoost risk model and register it as the challenger.

    The model and its baselines are trained on time folds, the run is logged to MLflow and
    the model is registered with the alias challenger.
    """
    from training.fitting.train import TrainConfig
    from training.jobs.train import read_params, run_training

    settings = settings_of(ctx)
    xgb_params = read_params(params)
    if trees is not None:
        xgb_params = xgb_params.with_updates(n_estimators=trees)
    config = TrainConfig(
        until=parse_day(until, "--until"),
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
        "--reason", help="Why (required with --force; recorded on the version and in the "
                         "audit trail) [default: none]")
    ] = None,
    by: Annotated[str | None, typer.Option(
        "--by", help="Who promotes (required with --force; recorded on the version and in "
                     "the audit trail) [default: SPONSORWATCH_PROMOTED_BY]")
    ] = None,
) -> None:
    """Make the challenger the champion when it passes the gates, and rescore the served
    snapshot with it.

    The champion alias moves to the challenger when it beats the champion on the same
    held-out data (precision at capacity), passes the fairness gate and the proxy check. A
    gate that cannot measure fails. The latest score snapshot is then scored again by the
    new champion (as `sponsorwatch score` does), and the promotion is written to the audit
    trail; a running service picks both up on `POST /v1/admin/reload`.
    """
    from training.registry.promotion import promote as run_promote

    settings = settings_of(ctx)
    try:
        decision = run_promote(settings, force=force, reason=reason, by=by)
    except (LookupError, ValueError) as exc:
        _fail(str(exc))
        return
    typer.echo(decision.summary())
    if not decision.promoted:
        raise typer.Exit(1)
    rescored_day, problem = _rescore_served(settings)
    try:
        _record_promotion(settings, decision, rescored_day)
    except Exception as exc:  # the champion has moved: say so rather than hide it
        problem = "; ".join(filter(None, [problem, f"promoted, but the audit trail could not "
                                                   f"record it: {exc}"]))
    if problem:
        _fail(problem)


def _rescore_served(settings) -> tuple[object, str | None]:  # noqa: ANN001 - Settings
    """Score the served day again with the new champion: (its day or None, a problem)."""
    from training.jobs.score import rescore_served, served_day

    try:
        done = rescore_served(settings)
    except (LookupError, FileNotFoundError, ValueError, OSError) as exc:
        return None, (f"promoted, but the served snapshot of {served_day(settings)} could not "
                      f"be scored again ({exc}); a service refuses to serve it until "
                      f"`sponsorwatch score --as-of {served_day(settings)}` succeeds")
    if done is None:
        typer.echo("no score snapshot yet: run `sponsorwatch score --as-of DAY`")
        return None, None
    table, path, info = done
    typer.echo(f"rescored {table.height} sponsors as of {table['as_of'][0]} with "
               f"{info['name']} v{info['version']}; written to {path} "
               "(reload a running service: POST /v1/admin/reload)")
    return table["as_of"][0], None


def _record_promotion(settings, decision, day) -> None:  # noqa: ANN001 - Settings, decision
    """The promotion in the service's audit trail (who, forced or not, why)."""
    from serving.audit import promotion_row, record_event
    from serving.db import create_schema, make_engine

    settings.home.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.service_database_url)
    try:
        create_schema(engine)
        record_event(engine, promotion_row(
            decision.version, forced=decision.forced, by=decision.by,
            reason=decision.reason, previous=decision.previous_champion, score_as_of=day))
    finally:
        engine.dispose()


def score(
    ctx: typer.Context,
    as_of: Annotated[str, typer.Option("--as-of", metavar=DAY,
                                       help="Score sponsors active on this day")],
    model_alias: Annotated[str, typer.Option("--model-alias", help="Registry alias")] = (
        "champion"),
    out: Annotated[Path | None, typer.Option(
        "--out", help="Also write the table here (.csv with reasons as text, or .parquet) "
                      "[default: none]")] = None,
) -> None:
    """Rank every active sponsor by risk, with its top reasons.

    The ranking is written to `<home>/scores/as_of=DATE/scores.parquet`, and to --out if
    given.
    """
    from training.jobs.score import run_scoring

    settings = settings_of(ctx)
    try:
        table, path, info = run_scoring(settings, parse_day(as_of, "--as-of"), model_alias, out)
    except (LookupError, FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
        return
    typer.echo(f"scored {table.height} sponsors as of {as_of} with {info['name']} "
               f"v{info['version']} ({model_alias}); written to {path}"
               + (f" and {out}" if out else ""))


def tune(
    ctx: typer.Context,
    until: Annotated[str, typer.Option("--until", metavar=DAY, help="Training cut-off")],
    trials: Annotated[int, typer.Option("--trials", min=1, help="Optuna trials")] = 20,
    horizon_months: Annotated[int | None, typer.Option(
        "--horizon-months", min=1, max=60,
        help="Label horizon H in months [default: the settings' horizon]")] = None,
    experiment: Annotated[str, typer.Option("--experiment", help="MLflow experiment")] = (
        "sponsor-risk-tuning"),
    folds: Annotated[int, typer.Option("--folds", min=1, max=12,
                                       help="Prequential folds")] = 3,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Write the best settings here as JSON "
                      "[default: `<home>/tuning/best_params.json`]")
    ] = None,
) -> None:
    """Search XGBoost settings with optuna on time folds.

    Each trial is a nested MLflow run. Train with the result:
    `sponsorwatch train --params FILE`.
    """
    from training.jobs.tune import run_tuning

    settings = settings_of(ctx)
    try:
        best, path = run_tuning(settings, parse_day(until, "--until"), trials,
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
