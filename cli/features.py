"""``sponsorwatch features``: build point-in-time sponsor snapshots into the feature store."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated

import typer

from cli.common import DAY, optional_day, settings_of


class Every(StrEnum):
    month = "month"
    quarter = "quarter"


def features(
    ctx: typer.Context,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", metavar=DAY,
        help="One snapshot on this day (or give --from and --to) [default: none]")] = None,
    start: Annotated[str | None, typer.Option(
        "--from", metavar=DAY, help="First snapshot day, with --to [default: none]")] = None,
    end: Annotated[str | None, typer.Option(
        "--to", metavar=DAY, help="Last snapshot day, with --from [default: none]")] = None,
    every: Annotated[Every, typer.Option("--every", help="Step between snapshots")] = Every.month,
) -> None:
    """Build sponsor snapshots (the features as of each day) from the warehouse.

    Each snapshot is written to `<home>/features/as_of=YYYY-MM-DD/features.parquet`. Give
    either --as-of for one day or --from and --to for a series of days.
    """
    from rich.progress import Progress

    from features.build import as_of_dates, build_feature_history
    from features.store import snapshot_manifest, write_snapshot
    from sponsorwatch.storage import scan_warehouse
    from sponsorwatch.thresholds import load_thresholds

    settings = settings_of(ctx)
    day, first, last = (optional_day(as_of, "--as-of"), optional_day(start, "--from"),
                        optional_day(end, "--to"))
    if (day is None) == (first is None and last is None) or (first is None) != (last is None):
        raise typer.BadParameter("give either --as-of DATE or both --from DATE and --to DATE")
    try:
        dates = [day] if day is not None else as_of_dates(first, last, every.value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    # One state of the warehouse for every snapshot, whatever an ingest swaps in meanwhile;
    # each snapshot records it (scoring rebuilds, training refuses a stale one).
    warehouse = settings.warehouse_dir.resolve()
    tables = scan_warehouse(warehouse)
    manifest = snapshot_manifest(warehouse, settings.use_sector)
    with Progress() as progress:
        task = progress.add_task("features", total=len(dates))

        def write(as_of_day: dt.date, snapshot) -> None:  # noqa: ANN001 - a DataFrame
            write_snapshot(settings.features_dir, snapshot, manifest)
            progress.update(task, advance=1, description=f"features {as_of_day}")

        build_feature_history(tables, dates, load_thresholds(settings.thresholds_file),
                              settings.use_sector, on_snapshot=write)
    typer.echo(f"{len(dates)} snapshot(s) of {len(manifest['feature_names'])} features "
               f"written to {settings.features_dir}")


def register(app: typer.Typer) -> None:
    app.command(name="features")(features)
