"""``sponsorwatch cases``: export cases as contract inspections, migrate reviews into cases."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.common import service_engine, settings_of

cases_app = typer.Typer(help="Analysts' cases (queue, four-eyes, outcomes).",
                        no_args_is_help=True)


_engine = service_engine


@cases_app.command("export")
def cases_export(
    ctx: typer.Context,
    output: Annotated[Path, typer.Option(
        "--out", "-o", help="File to write: `inspections.parquet` or `.csv` (contract shape); "
                            "put it in an extract folder and `sponsorwatch ingest` it")],
) -> None:
    """Write the inspections of cases as contract inspections rows (version 2).

    One row per version of each inspection: OPEN on the day it was requested, then each
    outcome recorded (after the second approval of a VIOLATION), with its `recorded_on`.
    Every row carries the case's `selection`, `plan_id` and `inclusion_probability`: a
    plan's RANDOM pick stays RANDOM. Reviews not yet migrated are migrated first.
    """
    from sqlalchemy.orm import Session

    from serving.cases.export import export_cases
    from serving.cases.migrate import migrate_reviews

    if output.suffix not in (".parquet", ".csv"):
        raise typer.BadParameter("use a .parquet or .csv file name", param_hint="--out")
    with Session(_engine(ctx), expire_on_commit=False) as session:
        migrate_reviews(session, settings_of(ctx))
        count = export_cases(session, output)
    typer.echo(f"{count} inspection versions written to {output}")


@cases_app.command("migrate")
def cases_migrate(ctx: typer.Context) -> None:
    """Turn every review without a case into a case (idempotent; the service also does
    this at its first case request)."""
    from sqlalchemy.orm import Session

    from serving.cases.migrate import migrate_reviews

    with Session(_engine(ctx), expire_on_commit=False) as session:
        count = migrate_reviews(session, settings_of(ctx))
    typer.echo(f"{count} reviews migrated to cases")


def register(app: typer.Typer) -> None:
    app.add_typer(cases_app, name="cases")
