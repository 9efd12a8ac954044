"""``sponsorwatch simulate``: write a simulated sponsor world in the raw contract's shape."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from cli.common import DAY, parse_day, settings_of


def simulate(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="Folder to write the world to (replaced)")],
    sponsors: Annotated[int, typer.Option("--sponsors", min=1,
                                          help="Sponsors recognised at some point")] = 12_000,
    seed: Annotated[int | None, typer.Option(
        "--seed", help="Random seed [default: the settings' seed]")] = None,
    start: Annotated[dt.date, typer.Option(
        "--start", parser=parse_day, metavar=DAY, help="First day of the window")
    ] = dt.date(2019, 1, 1),
    end: Annotated[dt.date, typer.Option(
        "--end", parser=parse_day, metavar=DAY, help="Last day of the window")
    ] = dt.date(2025, 12, 31),
    report: Annotated[bool, typer.Option("--report",
                                         help="Print the calibration report")] = False,
) -> None:
    """Simulate a world of recognised sponsors in the raw contract's shape.

    The sponsors, their migrants, payroll, notifications and inspections are written as the
    seven contract tables plus the truth (Parquet), with calibration.md beside them.
    """
    from rich.console import Console
    from rich.markdown import Markdown
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from pipelines.simulate import write_world
    from sponsorwatch.thresholds import load_thresholds

    settings = settings_of(ctx)
    first, last = start, end
    if last <= first:
        raise typer.BadParameter(f"--end {last} must be after --start {first}")
    chosen_seed = settings.seed if seed is None else seed
    columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns) as progress:
        task = progress.add_task("simulate", total=None)

        def step(label: str, done: int, total: int) -> None:
            progress.update(task, description=f"simulate: {label}", completed=done, total=total)

        write_world(out, sponsors, chosen_seed, first, last, step=step,
                    thresholds=load_thresholds(settings.thresholds_file))
    typer.echo(f"world of {sponsors} sponsors (seed {chosen_seed}, {first}..{last}) "
               f"written to {out}")
    if report:
        Console().print(Markdown((out / "calibration.md").read_text(encoding="utf-8")))


def register(app: typer.Typer) -> None:
    app.command(name="simulate")(simulate)
