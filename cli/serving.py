"""``sponsorwatch serve``, ``keys``, ``audit``, ``reviews`` and ``demo``: the scoring
service and the commands around it."""

from __future__ import annotations

import os
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from cli.common import ACCEPTS_OLD_OUTPUT, service_engine, settings_of
from cli.config import refuse_unsafe_serve
from cli.config import register as register_config

keys_app = typer.Typer(help="Issue, list and revoke API keys.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit trail of revealed scores.", no_args_is_help=True)
reviews_app = typer.Typer(help="Analysts' reviews.", no_args_is_help=True)


class KeyRole(StrEnum):
    case_system = "case-system"
    analyst = "analyst"
    lead = "lead"
    admin = "admin"


class AuditFormat(StrEnum):
    csv = "csv"
    jsonl = "jsonl"


_engine = service_engine


def _cli_actor() -> str:
    """Who runs a command, for the audit trail: ``cli:<login name>``."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        return "cli"


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes")] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
) -> None:
    """Serve the champion model and the latest score snapshot over HTTP.

    The API is under /v1, its OpenAPI description at /docs and the metrics at /metrics.
    """
    import uvicorn

    settings = settings_of(ctx)
    refuse_unsafe_serve(settings, host)
    _quiet_mlflow()
    # Workers are separate processes that build their own Settings from the environment.
    os.environ["SPONSORWATCH_HOME"] = str(settings.home.resolve())
    typer.echo(f"serving {settings.home} on http://{host}:{port} (docs: /docs)")
    # X-Forwarded-For is believed from SPONSORWATCH_TRUSTED_PROXIES only, by the app itself
    # (uvicorn's own default would believe 127.0.0.1).
    if workers == 1:
        from serving.app import create_app

        uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level,
                    proxy_headers=False)
    else:
        uvicorn.run("serving.app:app_from_environment", factory=True, host=host, port=port,
                    workers=workers, log_level=log_level, proxy_headers=False)


@keys_app.command("create")
def keys_create(
    ctx: typer.Context,
    role: Annotated[KeyRole, typer.Option(help="What the key may do")],
    label: Annotated[str, typer.Option(help="Who or what holds the key [default: empty]")] = "",
) -> None:
    """Issue a key and print it once (only its hash is stored)."""
    from sqlalchemy.orm import Session

    from serving.audit import key_event_row, record_event
    from serving.keys import issue_key

    settings = settings_of(ctx)
    engine = _engine(ctx)
    with Session(engine, expire_on_commit=False) as session:
        issued = issue_key(session, settings.secret_key.get_secret_value(), role.value, label)
    record_event(engine, key_event_row(_cli_actor(), "cli", "CLI keys create", issued.key_id,
                                       issued.role.value, label))
    typer.echo(f"key id {issued.key_id}, role {issued.role.value}; store this key now, it is "
               "not shown again:", err=True)
    typer.echo(issued.api_key)


@keys_app.command("list")
def keys_list(ctx: typer.Context) -> None:
    """Every key issued: id, role, label, created, revoked."""
    from rich.console import Console
    from rich.table import Table
    from sqlalchemy.orm import Session

    from serving.keys import list_keys

    table = Table("key id", "role", "label", "created (UTC)", "revoked (UTC)")
    with Session(_engine(ctx), expire_on_commit=False) as session:
        for key in list_keys(session):
            table.add_row(key.key_id, key.role, key.label, f"{key.created_at:%Y-%m-%d %H:%M}",
                          f"{key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "")
    Console().print(table)


@keys_app.command("revoke")
def keys_revoke(ctx: typer.Context,
                key_id: Annotated[str, typer.Argument(help="The key id (from keys list)")]) -> None:
    """Revoke a key (every worker of a running service notices within 4 seconds)."""
    from sqlalchemy.orm import Session

    from serving.audit import key_event_row, record_event
    from serving.keys import revoke_key

    engine = _engine(ctx)
    with Session(engine, expire_on_commit=False) as session:
        key = revoke_key(session, key_id)
    if key is None:
        typer.echo(f"no key with id {key_id!r}", err=True)
        raise typer.Exit(1)
    record_event(engine, key_event_row(_cli_actor(), "cli", "CLI keys revoke", key.key_id,
                                       key.role, key.label))
    typer.echo(f"revoked {key_id} ({key.role}) at {key.revoked_at:%Y-%m-%d %H:%M} UTC")


def _when(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not a date or time (ISO 8601)",
                                 param_hint=option) from exc


@audit_app.command("export", context_settings=ACCEPTS_OLD_OUTPUT)
def audit_export(
    ctx: typer.Context,
    output: Annotated[Path, typer.Option("--out", "-o", help="File to write")],
    fmt: Annotated[AuditFormat, typer.Option("--format", help="csv or jsonl")] = AuditFormat.csv,
    since: Annotated[str | None, typer.Option(
        help="From this UTC date or time (ISO 8601) [default: no limit]")] = None,
    until: Annotated[str | None, typer.Option(
        help="Before this UTC date or time (ISO 8601) [default: no limit]")] = None,
) -> None:
    """Write the audit trail (when, key id, role, endpoint, sponsor ids, model version)."""
    from serving.audit import export_audit

    count = export_audit(_engine(ctx), output, fmt.value, _when(since, "--since"),
                         _when(until, "--until"))
    typer.echo(f"{count} audit rows written to {output}")


@audit_app.command("purge")
def audit_purge(ctx: typer.Context) -> None:
    """Delete audit rows older than the retention (SPONSORWATCH_AUDIT_RETENTION_DAYS)."""
    from serving.audit import purge_audit

    settings = settings_of(ctx)
    count = purge_audit(_engine(ctx), settings.audit_retention_days, actor=_cli_actor())
    typer.echo(f"{count} audit rows older than {settings.audit_retention_days} days deleted"
               + (" (the purge is recorded in the trail)" if count else ""))


@audit_app.command("verify")
def audit_verify(ctx: typer.Context) -> None:
    """Check the audit trail's hash chain: name every edited, deleted, inserted or
    reordered row (exit 1 when there is one). Prints the chain's head: keep it elsewhere
    to detect a rewrite of the whole chain later."""
    from serving.audit_chain import verify_chain

    report = verify_chain(_engine(ctx))
    span = (f"seq {report.first_seq}..{report.head_seq}" if report.rows else "empty")
    if report.ok:
        typer.echo(f"audit trail intact: {report.rows} rows ({span}), head seq "
                   f"{report.head_seq} hash {report.head_hash}")
        return
    typer.echo(f"audit trail BROKEN: {len(report.problems)} problem(s) in {report.rows} rows "
               f"({span})", err=True)
    for problem in report.problems:
        typer.echo(f"  - {problem}", err=True)
    raise typer.Exit(1)


@reviews_app.command("export", context_settings=ACCEPTS_OLD_OUTPUT)
def reviews_export(
    ctx: typer.Context,
    output: Annotated[Path, typer.Option(
        "--out", "-o", help="File to write: a .parquet or .csv file (contract shape)")],
) -> None:
    """Write the inspections opened by analysts' reviews as contract inspections rows.

    A review of a plan's pick keeps the plan's selection, plan_id and inclusion probability
    (RANDOM stays RANDOM); other reviews are RISK_BASED. Ready to deliver with the next
    extract as labels (`sponsorwatch cases export` does the same for cases).
    """
    from sqlalchemy.orm import Session

    from serving.cases.plans import plan_picks
    from serving.reviews import export_inspections

    if output.suffix not in (".parquet", ".csv"):
        raise typer.BadParameter("use a .parquet or .csv file name", param_hint="--out")
    with Session(_engine(ctx), expire_on_commit=False) as session:
        count = export_inspections(session, output, plan_picks(settings_of(ctx).home))
    typer.echo(f"{count} inspections written to {output}")


def _quiet_mlflow() -> None:
    """MLflow's own progress bars and INFO lines would break the rich display."""
    import logging

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)


class _StageBars:
    """One rich progress bar per stage, fed by pipelines.run's (text, done, total)."""

    def __init__(self, progress) -> None:  # noqa: ANN001 - rich Progress
        self.progress = progress
        self.tasks: dict[str, object] = {}

    def __call__(self, text: str, done: int, total: int | None) -> None:
        stage = text.split(":", 1)[0]
        if stage not in self.tasks:
            self.tasks[stage] = self.progress.add_task(text, total=total)
        self.progress.update(self.tasks[stage], description=text, completed=done,
                             total=total)


def demo(
    ctx: typer.Context,
    sponsors: Annotated[int, typer.Option(min=50, help="Sponsors in the simulated world")
                        ] = 12_000,
    seed: Annotated[int | None, typer.Option(help="World seed [default: the settings' seed]")
                    ] = None,
    gx: Annotated[bool, typer.Option(help="Validate with great-expectations too")] = True,
    plots: Annotated[bool, typer.Option(help="Log training plots to MLflow")] = True,
    run_server: Annotated[bool, typer.Option("--serve/--no-serve",
                                             help="Start the service at the end")] = True,
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
) -> None:
    """Run the main job end to end, then serve the ranking.

    Simulates a sponsor world, ingests it, builds features, trains, promotes and scores,
    then serves the ranking with a fresh admin key.
    """
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )
    from sqlalchemy.orm import Session

    from pipelines.run import run_demo
    from serving.audit import key_event_row, promotion_row, record_event
    from serving.keys import issue_key

    settings = settings_of(ctx)
    if run_server:  # before the work, not after it
        refuse_unsafe_serve(settings, host)
    _quiet_mlflow()
    console = Console()
    console.print(f"[bold]sponsorwatch demo[/]: {sponsors:,} sponsors into {settings.home}")
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
               MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        result = run_demo(settings, sponsors, settings.seed if seed is None else seed,
                          run_gx=gx, plots=plots, progress=_StageBars(progress))
    engine = _engine(ctx)
    decision = result.decision
    if decision is not None and decision.promoted:  # the trail shows who put it in service
        record_event(engine, promotion_row(decision.version, forced=decision.forced,
                                           by=decision.by, reason=decision.reason,
                                           previous=decision.previous_champion,
                                           score_as_of=None))
    with Session(engine, expire_on_commit=False) as session:
        issued = issue_key(session, settings.secret_key.get_secret_value(), "admin", "demo")
    record_event(engine, key_event_row(_cli_actor(), "cli", "CLI demo", issued.key_id,
                                       issued.role.value, "demo"))
    base = f"http://{host}:{port}"
    for note in result.notes:
        console.print(note)
    console.print(
        f"\n[bold]Where to look[/]\n"
        f"  extract          {result.extract}\n"
        f"  warehouse        {result.warehouse} (validation report in reports/)\n"
        f"  feature store    {settings.features_dir} ({result.snapshots} snapshots)\n"
        f"  model            {settings.model_name} version {result.model_version} "
        f"({'promoted to champion' if result.promoted else 'not promoted'}); "
        f"MLflow: uv run mlflow ui --backend-store-uri {settings.tracking_uri}\n"
        f"  scores           {result.scores[-1]}\n"
        f"  pages            {base}/\n"
        f"  API docs         {base}/docs\n"
        f"  admin key        {issued.api_key}\n"
        f"  try              curl -s -H 'X-API-Key: {issued.api_key}' "
        f"'{base}/v1/sponsors?page_size=5'", soft_wrap=True)
    if run_server:
        import uvicorn

        from serving.app import create_app

        uvicorn.run(create_app(settings), host=host, port=port, log_level="info",
                    proxy_headers=False)


def register(app: typer.Typer) -> None:
    app.command(name="serve")(serve)
    app.command(name="demo")(demo)
    app.add_typer(keys_app, name="keys")
    app.add_typer(audit_app, name="audit")
    app.add_typer(reviews_app, name="reviews")
    register_config(app)
