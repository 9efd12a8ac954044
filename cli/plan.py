"""``sponsorwatch plan | evaluate-plan | audit-fairness``: the inspection list for the next
period with a random slice, its inverse-propensity evaluation once the inspections are back,
and the fairness audit of any score snapshot."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.common import DAY, optional_day, settings_of
from cli.training import _fail


def plan(
    ctx: typer.Context,
    capacity: Annotated[int | None, typer.Option(
        "--capacity", min=1,
        help="Inspections in the period (K) [default: the settings' capacity]")] = None,
    random_share: Annotated[float, typer.Option(
        "--random-share", min=0.0, max=1.0,
        help="Share of K drawn at random from the sponsors outside the risk-based top")] = 0.1,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", metavar=DAY,
        help="Day of the score snapshot to plan from [default: the latest]")] = None,
    seed: Annotated[int | None, typer.Option(
        "--seed", help="Random seed [default: the settings' seed]")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Also write the plan here (.csv, .parquet or .json) [default: none]")
    ] = None,
    plan_id: Annotated[str | None, typer.Option(
        "--plan-id", help="Id of the plan, which every inspection opened from it carries "
                          "[default: `PLAN-<as_of>-<seed>`]")] = None,
) -> None:
    """Draw the inspection list for the next period.

    The list holds the highest-risk sponsors plus a random slice of the rest. Each pick
    carries what its inspection records (contract version 2): the plan's `plan_id`, its
    `selection` (RISK_BASED or RANDOM) and its `inclusion_probability`. It is written to
    `<home>/plans/as_of=DATE/plan.parquet`, and to --out if given.
    """
    from training.fitting.scoring import load_score_snapshot
    from training.planning.design import build_inspection_plan, default_plan_id, write_plan

    settings = settings_of(ctx)
    chosen_seed = settings.seed if seed is None else seed
    try:
        scores, day = load_score_snapshot(settings.scores_dir, optional_day(as_of, "--as-of"))
        table, design = build_inspection_plan(
            scores, capacity or settings.inspection_capacity, random_share, chosen_seed,
            plan_id if plan_id is not None else default_plan_id(day, chosen_seed))
        path = write_plan(table, design, settings.home, day, out)
    except (FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
        return
    _print_plan(table, design)
    typer.echo(f"plan {design.plan_id} of {table.height} inspections from scores as of {day}: "
               f"{design.risk_based} risk-based, {design.random} random (probability "
               f"{design.random_probability:.5f} each among {design.population - design.risk_based}"
               f" sponsors); written to {path}" + (f" and {out}" if out else ""))


def _print_plan(table: Any, design: Any, rows: int = 15) -> None:
    from rich.console import Console
    from rich.table import Table

    view = Table(title=f"inspection plan (first {min(rows, table.height)} of {table.height})")
    for column in ("#", "sponsor", "name", "selection", "p(selected)", "score", "rank"):
        view.add_column(column, justify="right" if column in ("#", "p(selected)", "score",
                                                              "rank") else "left")
    for row in table.head(rows).iter_rows(named=True):
        view.add_row(str(row["plan_position"]), row["sponsor_id"], str(row.get("name") or ""),
                     row["selection"], f"{row['inclusion_probability']:.4f}",
                     f"{row['score']:.3f}", str(row.get("rank", "")))
    Console().print(view)


def evaluate_plan(
    ctx: typer.Context,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", metavar=DAY, help="Day of the plan [default: the latest plan]")] = None,
    plan_file: Annotated[Path | None, typer.Option(
        "--plan", help="Plan file (.parquet) [default: `<home>/plans/as_of=DATE/plan.parquet`]")
    ] = None,
    inspections: Annotated[Path | None, typer.Option(
        "--inspections", help="Inspections table (contract shape, .parquet or .csv) "
                              "[default: the warehouse's]")] = None,
    horizon_days: Annotated[int, typer.Option(
        "--horizon-days", min=1, help="Inspections opened this long after the plan count")] = 366,
    top_k: Annotated[int | None, typer.Option(
        "--top-k", min=1, help="Estimate precision of the model's top k [default: plan size]")
    ] = None,
) -> None:
    """Estimate precision and prevalence from a plan's returned inspections.

    Inverse-propensity (Horvitz-Thompson) estimates, with intervals, of the precision of the
    risk-based picks and of the top k and of the prevalence over all sponsors; written beside
    the plan as evaluation.json.
    """
    import polars as pl

    from sponsorwatch.storage import write_json_atomic
    from training.planning.design import plan_dir
    from training.planning.estimates import attach_outcomes
    from training.planning.estimates import evaluate_plan as run_evaluation

    settings = settings_of(ctx)
    day = optional_day(as_of, "--as-of")
    if plan_file is None:
        plans = sorted((settings.home / "plans").glob("as_of=*/plan.parquet"))
        if day is not None:
            plans = [p for p in plans if p.parent.name == f"as_of={day}"]
        if not plans:
            _fail(f"{settings.home / 'plans'}: no plan" + (f" as of {day}" if day else "")
                  + "; run `sponsorwatch plan`")
            return
        plan_file = plans[-1]
        day = dt.date.fromisoformat(plan_file.parent.name.removeprefix("as_of="))
    if day is None:
        _fail("--as-of is needed with --plan (the day the plan was made)")
        return
    source = inspections or settings.warehouse_dir / "inspections.parquet"
    if not source.exists():
        _fail(f"{source}: no inspections table")
        return
    table = (pl.read_csv(source, try_parse_dates=True) if source.suffix.lower() == ".csv"
             else pl.read_parquet(source))
    result = run_evaluation(attach_outcomes(pl.read_parquet(plan_file), table, day,
                                            horizon_days), top_k=top_k)
    path = plan_dir(settings.home, day) / "evaluation.json"
    write_json_atomic(result, path)
    for key in ("precision_risk_based", "precision_top_k", "prevalence_rest", "prevalence_all"):
        e = result[key]
        value = "n/a" if e["estimate"] is None else (
            f"{e['estimate']:.3f} [{e['lo']:.3f}, {e['hi']:.3f}]")
        typer.echo(f"{key:<22} {value}  ({e['known']} of {e['inspected']} inspections with "
                   f"an outcome, {e['violations']} violations)")
    typer.echo(f"written to {path}")


def audit_fairness(
    ctx: typer.Context,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", metavar=DAY,
        help="Day of the score snapshot to audit [default: the latest]")] = None,
    k: Annotated[int | None, typer.Option(
        "--k", min=1, help="Top k [default: the settings' capacity]")] = None,
    truth: Annotated[Path | None, typer.Option(
        "--truth", help="Truth table of a simulated world, for evaluation only "
                        "[default: none]")] = None,
) -> None:
    """Audit the fairness of a score snapshot (monitoring in use).

    Group metrics by nationality mix, sector, size class and postcode area against the labels
    of the following horizon (and the truth on simulated worlds), a proxy check and a bias
    scan; written to `<home>/reports/fairness/as_of=DATE/`.
    """
    from training.jobs.audit import run_snapshot_audit

    settings = settings_of(ctx)
    try:
        audit, folder = run_snapshot_audit(settings, optional_day(as_of, "--as-of"), k, truth)
    except (FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
        return
    summary = {key: value for key, value in audit.metrics().items()
               if key.startswith(("fairness_nationality", "proxy_", "bias_"))}
    typer.echo(json.dumps(summary, indent=2))
    verdict = "within bounds" if audit.passed else "BREACH: " + "; ".join(
        b.describe() for b in audit.breaches)
    typer.echo(f"audit of the top {audit.k} of {audit.sponsors} sponsors as of {audit.as_of}: "
               f"{verdict}; report in {folder}")


def model_card(
    ctx: typer.Context,
    version: Annotated[str | None, typer.Option(
        "--version", help="Registered model version [default: the one behind --alias]")] = None,
    alias: Annotated[str, typer.Option("--alias", help="Registry alias")] = "champion",
    out: Annotated[Path | None, typer.Option(
        "--out", help="Write the card here (.md or .json) instead of printing it "
                      "[default: print it]")] = None,
) -> None:
    """Print or write the model card of a registered version.

    The card is generated at training, never hand-written: it is fetched from the version's
    training run into the home's card cache, which the service reads.
    """
    from sponsorwatch.storage import write_json_atomic, write_text_atomic
    from training.governance.card_markdown import card_markdown
    from training.registry.cards import load_model_card
    from training.registry.tracking import client

    settings = settings_of(ctx)
    try:
        mlflow_client = client(settings)
        found = (mlflow_client.get_model_version(settings.model_name, version) if version
                 else mlflow_client.get_model_version_by_alias(settings.model_name, alias))
        card = load_model_card(settings, str(found.version), found.run_id)
    except Exception as exc:  # noqa: BLE001 - MLflow raises its own types for a missing version
        _fail(f"no model card for {settings.model_name} "
              f"{'version ' + version if version else 'alias ' + alias}: {exc}")
        return
    if out is None:
        typer.echo(card_markdown(card))
    elif out.suffix.lower() == ".json":
        write_json_atomic(card, out)
    else:
        write_text_atomic(card_markdown(card), out)


def register(app: typer.Typer) -> None:
    app.command(name="model-card")(model_card)
    app.command(name="plan")(plan)
    app.command(name="evaluate-plan")(evaluate_plan)
    app.command(name="audit-fairness")(audit_fairness)
