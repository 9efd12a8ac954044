"""``sponsorwatch simulate-policy``: inspection policies run in a closed loop on simulated
worlds, each retraining on the inspections it caused, compared against the truth."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.common import settings_of


def _shares(text: str) -> tuple[float, ...]:
    try:
        shares = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise typer.BadParameter(f"{text!r} is not a comma-separated list of shares",
                                 param_hint="--random-shares") from exc
    if not shares or any(not 0.0 <= s <= 1.0 for s in shares):
        raise typer.BadParameter(f"{text!r}: each share must lie in [0, 1]",
                                 param_hint="--random-shares")
    return shares


def simulate_policy(
    ctx: typer.Context,
    sponsors: Annotated[int, typer.Option(
        "--sponsors", min=50, help="Sponsors of each simulated world")] = 12_000,
    seeds: Annotated[int, typer.Option(
        "--seeds", min=1, help="Worlds (seeds 1 to N), each running every policy")] = 5,
    years: Annotated[int, typer.Option(
        "--years", min=1, max=5, help="Years of the loop, from 2021")] = 5,
    capacity: Annotated[float, typer.Option(
        "--capacity", min=0.0001,
        help="Inspections a year: below 1 a share of the sponsors active on 1 January, "
             "else a number")] = 0.025,
    random_shares: Annotated[str, typer.Option(
        "--random-shares", help="Random shares of the tool's policies, comma-separated")
    ] = "0,0.05,0.1,0.2",
    crude_random_share: Annotated[float, typer.Option(
        "--crude-random-share", min=0.0, max=1.0,
        help="Random share of the crude rule's policy")] = 0.1,
    workers: Annotated[int, typer.Option(
        "--workers", min=1, help="Seeds run at once, each in a process of its own")] = 2,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Folder for policy.json and policy.png [default: `<home>/policy`]")
    ] = None,
    experiment: Annotated[str, typer.Option(
        "--experiment", help="MLflow experiment of the runs")] = "policy-simulation",
) -> None:
    """Compare inspection policies in a closed loop on simulated worlds.

    Each year from 2021 the policy scores every active sponsor as of 1 January (the tool's
    champion, or the crude rule), draws a plan, has its inspections resolved against the
    world's truth and ingested, and (the tool) retrains and promotes a challenger only
    where it beats the champion. Figures per year against the truth, the three acceptance
    checks, a chart and one MLflow run per policy and seed.
    """
    from rich.console import Console
    from rich.table import Table

    from pipelines.policy import LoopConfig, run_policy_simulation
    from pipelines.policy.report import TABLE_HEADER, table_rows, write_results

    settings = settings_of(ctx)
    try:
        config = LoopConfig(sponsors=sponsors, seeds=tuple(range(1, seeds + 1)), years=years,
                            capacity=capacity, random_shares=_shares(random_shares),
                            crude_random_share=crude_random_share, workers=workers)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    console = Console()
    with console.status("simulating policies") as status:
        results = run_policy_simulation(config, say=lambda line: status.update(line))
    payload = write_results(config, results, out or settings.home / "policy", settings,
                            experiment=experiment)
    view = Table(title=f"policies over {len(config.seeds)} seed(s), "
                       f"{config.first_year}-{config.last_year}")
    for column in TABLE_HEADER:
        view.add_column(column, justify="left" if column == "policy" else "right")
    for row in table_rows(payload, config):
        view.add_row(*row)
    # a wide table: piped output gets room for it instead of the 80 columns rich assumes
    Console(width=None if console.is_terminal else 140).print(view)
    for check in payload["checks"]:
        typer.echo(f"{'PASS' if check['passed'] else 'FAIL'} {check['check']}: "
                   f"{check['values']}" + (f" ({check['note']})" if check["note"] else ""))
        for name, raw in check.get("raw", {}).items():
            typer.echo(f"     {name}: {raw}")
    typer.echo(f"written to {out or settings.home / 'policy'}; MLflow run "
               f"{payload.get('mlflow_run_id')} in experiment {experiment!r}")


def register(app: typer.Typer) -> None:
    app.command(name="simulate-policy")(simulate_policy)
