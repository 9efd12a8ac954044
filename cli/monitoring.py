"""``sponsorwatch monitor``: the health report of a scoring snapshot (drift against the
champion's training window, deliveries, scores, outcomes on RANDOM inspections), with an
exit code a scheduler can act on."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from cli.common import DAY, optional_day, settings_of
from cli.training import _fail

#: Exit code of ``monitor --fail-on-alert`` when the report holds an alert.
ALERT_EXIT_CODE = 3


def monitor(
    ctx: typer.Context,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", metavar=DAY,
        help="Day of the score snapshot to monitor [default: the latest]")] = None,
    fail_on_alert: Annotated[bool, typer.Option(
        "--fail-on-alert",
        help="Exit with code 3 when the report holds an alert, so that a scheduler stops "
             "before the snapshot is served")] = False,
    log: Annotated[bool, typer.Option(
        "--log/--no-log", help="Log the report to MLflow on the champion's model version")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole report as JSON")
                       ] = False,
) -> None:
    """Check a scoring snapshot's health against the champion's training window.

    Per feature the population stability index, a two-sample Kolmogorov-Smirnov test and
    the null shares; the deliveries since the previous snapshot; the score distribution and
    the overlap of the top k with the previous snapshot; precision at k and calibration on
    the RANDOM inspections whose outcomes have arrived, with intervals; the label delay. The
    report is written to `<home>/monitoring/report-DATE.json`; the thresholds are the
    settings' `monitor_*`.
    """
    from training.jobs.monitor import run_monitor

    settings = settings_of(ctx)
    try:
        result = run_monitor(settings, optional_day(as_of, "--as-of"), log=log)
    except (FileNotFoundError, LookupError, ValueError) as exc:
        _fail(str(exc))
        return
    report = result.report
    if as_json:
        typer.echo(json.dumps(report, indent=2, default=str))
    else:
        _print_report(report)
        typer.echo(f"report written to {result.path}")
    if fail_on_alert and report["status"] == "alert":
        raise typer.Exit(ALERT_EXIT_CODE)


def _print_report(report: dict[str, Any]) -> None:
    summary = report["summary"]
    typer.echo(f"monitor {report['as_of']} (model version {report['model_version']}, "
               f"{report['sponsors']} sponsors, previous snapshot "
               f"{report['previous_as_of'] or 'none'}): {report['status'].upper()}")
    typer.echo(f"  largest PSI against the training window {_fmt(summary['max_psi'])}, "
               f"against the previous snapshot {_fmt(summary['max_step_psi'])}; score PSI "
               f"{_fmt(summary['score_psi'])}; top-k overlap {_fmt(summary['top_overlap'])}")
    outcome = report["outcomes"]
    typer.echo(f"  RANDOM outcomes known: {outcome['random_outcomes']} "
               f"({outcome['random_violations']} violations)")
    for name, entry in outcome["metrics"].items():
        if entry.get("measurable"):
            typer.echo(f"    {name}: {entry['estimate']:.3f} "
                       f"[{entry['lo']:.3f}, {entry['hi']:.3f}]")
    for alert in report["alerts"]:
        colour = typer.colors.RED if alert["severity"] == "alert" else typer.colors.YELLOW
        typer.secho(f"  {alert['severity']}: {alert['check']} {alert['subject']}: "
                    f"{alert['detail']} (value {_fmt(alert['value'])}, threshold "
                    f"{_fmt(alert['threshold'])})", fg=colour)


def _fmt(value: Any) -> str:
    return "n/a" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def register(app: typer.Typer) -> None:
    app.command(name="monitor")(monitor)
