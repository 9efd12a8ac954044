"""Health reports as JSON files, one per snapshot: ``<home>/monitoring/report-YYYY-MM-DD.json``,
each written atomically (``sponsorwatch.storage.write_json_atomic``), so a page or a
scheduler never reads half a report."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

PREFIX = "report-"


def report_path(folder: Path, as_of: dt.date) -> Path:
    return folder / f"{PREFIX}{as_of.isoformat()}.json"


def write_report(folder: Path, report: dict[str, Any]) -> Path:
    """Write ``report`` (of ``report["as_of"]``), replacing an earlier one of that day."""
    from sponsorwatch.storage import json_safe, write_json_atomic

    path = report_path(folder, dt.date.fromisoformat(report["as_of"]))
    write_json_atomic(json_safe(report), path)
    return path


def report_dates(folder: Path) -> list[dt.date]:
    """Days with a report, oldest first."""
    days = []
    for path in folder.glob(f"{PREFIX}*.json"):
        try:
            days.append(dt.date.fromisoformat(path.stem.removeprefix(PREFIX)))
        except ValueError:
            continue
    return sorted(days)


def read_report(folder: Path, as_of: dt.date) -> dict[str, Any]:
    return json.loads(report_path(folder, as_of).read_text(encoding="utf-8"))


def read_reports(folder: Path, last: int | None = None) -> list[dict[str, Any]]:
    """The reports of every day (the ``last`` ones only, when given), oldest first."""
    days = report_dates(folder)
    return [read_report(folder, day) for day in (days[-last:] if last else days)]


def trend(reports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per report for the trends over snapshots: its day, status, alert count and
    summary figures."""
    return [{"as_of": r["as_of"], "status": r["status"], "model_version": r.get("model_version"),
             "alerts": sum(a["severity"] == "alert" for a in r["alerts"]),
             "warnings": sum(a["severity"] != "alert" for a in r["alerts"]),
             **r["summary"]} for r in reports]
