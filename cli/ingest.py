"""``sponsorwatch ingest``: validate an extract and merge it into the warehouse;
``sponsorwatch ingest-suites``: regenerate the saved great-expectations suites."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cli.common import settings_of


def _fail(message: str) -> None:
    typer.secho(f"ingest stopped: {message}", fg=typer.colors.RED, err=True)
    typer.secho("the warehouse was left as it was", err=True)
    raise typer.Exit(code=2)


def ingest(
    ctx: typer.Context,
    extract: Annotated[Path | None, typer.Argument(
        help="Extract folder with `<table>.parquet`, `<table>/*.parquet` or `<table>.csv` per "
             "table (not needed with --check-register-only)")
    ] = None,
    register_file: Annotated[Path | None, typer.Option(
        "--register", help='IND register JSON (`{"sponsors": [{"name", "kvk"}]}`) to check '
                           "against [default: none]")] = None,
    check_register_only: Annotated[bool, typer.Option(
        "--check-register-only", help="Only check the --register file itself")] = False,
    skip_gx: Annotated[bool, typer.Option(
        "--skip-gx", help="Skip the great-expectations report (polars checks still run)")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print counts as JSON")] = False,
) -> None:
    """Validate an extract and merge its clean rows into the warehouse.

    Rows that break the contract are quarantined; rows whose sponsor is unknown or
    quarantined are held until a delivery brings that sponsor. The extract is validated
    with great-expectations and the warehouse `<home>/warehouse` is replaced by a new
    version atomically. One ingest at a time: a second one stops at once.
    """
    from pipelines.ingest.errors import IngestError

    try:
        if check_register_only:
            _check_register_only(register_file, as_json)
            return
        if extract is None:
            raise typer.BadParameter("give the extract folder (or --check-register-only)")
        _run(settings_of(ctx).warehouse_dir, extract, register_file, not skip_gx, as_json)
    except IngestError as exc:
        _fail(str(exc))


def _check_register_only(register_file: Path | None, as_json: bool) -> None:
    from pipelines.ingest.register import check_register, load_register
    from pipelines.ingest.report import register_section

    if register_file is None:
        raise typer.BadParameter("--check-register-only needs --register FILE")
    findings = check_register(load_register(register_file))
    if as_json:
        typer.echo(json.dumps(findings.as_dict(), indent=2, ensure_ascii=False))
    else:
        typer.echo("\n".join(register_section(findings)))


def _run(warehouse_dir: Path, extract: Path, register_file: Path | None, run_gx: bool,
         as_json: bool) -> None:
    from rich.console import Console
    from rich.progress import Progress

    from pipelines.ingest.pipeline import ingest as run_ingest
    from pipelines.ingest.pipeline import step_count

    console = Console(stderr=True)
    with Progress(console=console, transient=as_json) as progress:
        task = progress.add_task("ingest", total=step_count(run_gx))
        started = [False]

        def on_step(text: str) -> None:
            progress.update(task, advance=1 if started[0] else 0, description=text)
            started[0] = True

        result = run_ingest(extract, warehouse_dir, register_file=register_file,
                            run_gx=run_gx, on_step=on_step)
        progress.update(task, completed=step_count(run_gx), description="done")
    if as_json:
        typer.echo(json.dumps(result.as_dict(), indent=2, default=str, ensure_ascii=False))
        return
    manifest = result.manifest
    for name, counts in manifest["tables"].items():
        typer.echo(f"{name:17} in {counts['rows_in']:>9,}  clean {counts['clean']:>9,}  "
                   f"held {counts['held']:>6,}  quarantined {counts['quarantined']:>7,}  "
                   f"warehouse {counts['warehouse_rows']:>9,}")
    for line in manifest["knowledge_time"].values():
        typer.echo(f"note: {line}")
    held, released = manifest["held"], sum(c["released"] for c in manifest["tables"].values())
    if held["total"] or released:
        typer.echo(f"held: {held['total']:,} rows of {held['sponsors']:,} sponsors wait for "
                   f"their sponsor; {released:,} held before were released")
    warned = {f"{t}.{r}": n for t, rules in manifest["warnings"].items()
              for r, n in rules.items() if n}
    if warned:
        typer.echo("warnings (counted, kept): "
                   + ", ".join(f"{k} {n:,}" for k, n in warned.items()))
    verdict = {None: "not run", True: "passed", False: "failed (see report)"}[
        result.manifest["validation"]["success"]]
    seconds = result.seconds
    added = (f"; it added {seconds['great_expectations']:.1f} s to the ingest's "
             f"{seconds['total']:.1f} s" if result.validations else "")
    typer.echo(f"great-expectations: {verdict}{added}")
    if result.register is not None:
        found = result.register
        typer.echo(f"register: {found.sponsors_not_on_register:,} of {found.extract_sponsors:,} "
                   f"sponsors not on it; {len(found.entries_without_kvk)} entries without a "
                   "KvK number")
    typer.echo(f"report: {warehouse_dir / result.manifest['validation']['report']}")


def ingest_suites(
    folder: Annotated[Path | None, typer.Argument(
        help="Where to write the suites [default: expectations/ in the repository]")] = None,
) -> None:
    """Regenerate the great-expectations suites (one JSON file a table) from the contract."""
    from pipelines.ingest.gx_suites import SUITES_DIR, write_suites

    for path in write_suites(folder or SUITES_DIR):
        typer.echo(str(path))


def register(app: typer.Typer) -> None:
    app.command(name="ingest")(ingest)
    app.command(name="ingest-suites")(ingest_suites)
