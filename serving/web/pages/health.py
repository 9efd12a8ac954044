"""The model-health page: the latest report of ``sponsorwatch monitor`` (its alerts and
warnings, the features that moved most, the deliveries, the outcomes on RANDOM inspections
with intervals, the label delay) and trends over the monitored snapshots, as a chart and a
table. It reads the reports in ``<home>/monitoring/`` (``training.monitoring.store``), never
MLflow; it shows no sponsor, so it writes no audit row."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

import serving.web.pages.common as common
from serving.web.charts import Series, time_chart
from serving.web.i18n import translator

router = APIRouter(include_in_schema=False)

#: Snapshots shown in the trends.
TREND_SNAPSHOTS = 36
#: Features listed, those that moved most first.
TOP_FEATURES = 15


def health_context(request: Request) -> dict[str, Any]:
    """The page's figures from the stored reports."""
    from training.monitoring.store import read_reports, trend

    folder = request.app.state.settings.home / "monitoring"
    reports = read_reports(folder, TREND_SNAPSHOTS) if folder.exists() else []
    if not reports:
        return {"report": None, "trend": [], "folder": str(folder)}
    latest = reports[-1]
    features = sorted(latest["features"], key=lambda r: -max(
        r.get("psi") or 0.0, r.get("step_psi") or 0.0))[:TOP_FEATURES]
    return {"report": latest, "trend": trend(reports)[::-1], "features": features,
            "alerts": [a for a in latest["alerts"] if a["severity"] == "alert"],
            "warnings": [a for a in latest["alerts"] if a["severity"] != "alert"],
            "folder": str(folder)}


def trend_chart(rows: list[dict[str, Any]], t: Any, fmt: common.Formats) -> Any:
    """Largest feature PSI (training window and previous snapshot) and the scores' PSI per
    monitored snapshot."""
    def points(key: str) -> list[tuple[dt.date, float]]:
        return [(dt.date.fromisoformat(r["as_of"]), float(r[key])) for r in rows
                if r.get(key) is not None]

    return time_chart(
        "health-trend", t("health.trend_chart"), t("health.trend_chart_desc"),
        [Series(t("health.max_psi"), points("max_psi"), "series-0", "line"),
         Series(t("health.max_step_psi"), points("max_step_psi"), "series-1", "line"),
         Series(t("health.score_psi"), points("score_psi"), "series-2", "dots")],
        y_format=lambda v: fmt.number(v, 2), y_min=0)


@router.get("/model/health", response_class=HTMLResponse)
async def health_page(request: Request, user: common.PageUser) -> Response:
    context = await run_in_threadpool(health_context, request)
    lang = common.language(request)
    if context["trend"]:
        context["trend_svg"] = trend_chart(context["trend"], translator(lang),
                                           common.Formats(lang))
    return common.render(request, "model_health.html", user, active="health", **context)
