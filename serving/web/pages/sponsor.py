"""One sponsor's page: its score and what it means, the reasons, charts of its history,
wages, turnover and delays, past inspections and its reviews (the review forms post to
``serving.web.pages.reviews``)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import polars as pl
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

import serving.web.pages.common as common
from serving.keys import shown_key_id
from serving.reviews import findings_of, reviews_of
from serving.state import Snapshot
from serving.web.charts import PALETTE, Series, bar_chart, time_chart
from serving.web.i18n import evidence_meaning, translator
from serving.web.ranking import RankingView
from serving.web.session import WebUser
from sponsorwatch.contract import FINDINGS, OUTCOMES

router = APIRouter(include_in_schema=False)

SPONSOR_PAGE = "GET /sponsors/{id}"
#: Migrants drawn in the wage chart (those furthest below the criterion first).
WAGE_CHART_MIGRANTS = 12


def _reason_rows(row: dict[str, Any], view: RankingView,
                 fmt: common.Formats) -> list[dict[str, Any]]:
    from features.registry import FEATURES

    reasons = row.get("reasons") or []
    strongest = max([r["contribution"] for r in reasons] + [1e-9])
    out = []
    for reason in reasons:
        spec = FEATURES.get(reason["feature"])
        unit = spec.unit if spec else None
        out.append({
            "feature": reason["feature"],
            "text": fmt.feature(reason["feature"], reason["description"]),
            "value": fmt.value(reason["value"], unit),
            "typical": fmt.value(view.medians.get(reason["feature"]), unit),
            "push": fmt.number(reason["contribution"], 3),
            "width": max(2, round(100 * reason["contribution"] / strongest)),
        })
    return out


def _wage_chart(records: Any, t: Any, fmt: common.Formats) -> dict[str, Any]:
    wages = records.wages
    if wages.is_empty():
        return {"svg": None, "rows": [], "shown": 0, "total": 0}
    ratios = (wages.group_by("person_key")
              .agg((pl.col("gross_wage") / pl.col("threshold")).median().alias("ratio"))
              .sort("ratio", "person_key", nulls_last=True))
    total = ratios.height
    shown = ratios["person_key"].head(WAGE_CHART_MIGRANTS).to_list()
    series = []
    for i, person in enumerate(shown):
        own = wages.filter(pl.col("person_key") == person)
        points = list(zip(own["period"].to_list(), own["gross_wage"].to_list(), strict=True))
        below = {j for j, (wage, threshold) in enumerate(
            zip(own["gross_wage"].to_list(), own["threshold"].to_list(), strict=True))
            if threshold is not None and wage < threshold}
        series.append(Series(person, points, PALETTE[i % len(PALETTE)], "line", below))
    criteria = (wages.filter(pl.col("threshold").is_not_null())
                .group_by("scheme", "period").agg(pl.col("threshold").first())
                .sort("scheme", "period"))
    for i, scheme in enumerate(criteria["scheme"].unique(maintain_order=True).to_list()):
        own = criteria.filter(pl.col("scheme") == scheme)
        series.append(Series(
            f"{t('col.criterion')} {scheme}",
            list(zip(own["period"].to_list(), own["threshold"].to_list(), strict=True)),
            f"criterion criterion-{i % 4}", "step"))
    svg = time_chart("wages", t("sponsor.wages"), t("sponsor.wages_desc", as_of=records.as_of),
                     series, y_format=fmt.euro, y_min=0)
    table = (wages.filter(pl.col("person_key").is_in(shown))
             .sort("person_key", "period").to_dicts())
    return {"svg": svg, "rows": table, "shown": len(shown), "total": total,
            "legend": [(s.name, s.css) for s in series]}


def _turnover_chart(records: Any, t: Any, fmt: common.Formats) -> dict[str, Any]:
    quarters = [f"{q.year}-Q{(q.month - 1) // 3 + 1}"
                for q in records.turnover["quarter"].to_list()]
    return {
        "svg": bar_chart(
            "turnover", t("sponsor.turnover"), t("sponsor.turnover_desc"), quarters,
            [(t("sponsor.hires"), records.turnover["hires"].to_list(), "series-0"),
             (t("sponsor.departures"), records.turnover["departures"].to_list(),
              "series-1")], y_format=lambda v: fmt.number(v)),
        "rows": list(zip(quarters, records.turnover["hires"].to_list(),
                         records.turnover["departures"].to_list(), strict=True))}


def _delay_chart(records: Any, t: Any, fmt: common.Formats) -> dict[str, Any]:
    filing = records.filing_delays
    notices = records.notice_delays
    delay_series = [
        Series(t("sponsor.filing_delay"),
               list(zip(filing["period"].to_list(),
                        [float(v) for v in filing["delay_days"].to_list()], strict=True)),
               "series-0", "line"),
        Series(t("sponsor.notice_delay"),
               list(zip(notices["event_on"].to_list(),
                        [float(v) for v in notices["delay_days"].to_list()], strict=True)),
               "series-1", "dots")]
    return {
        "svg": time_chart(
            "delays", t("sponsor.delays"),
            t("sponsor.delays_desc", days=records.deadline_days), delay_series,
            y_format=lambda v: fmt.number(v), y_min=0,
            references=[(records.deadline_days, t("sponsor.deadline"))]),
        "filing": filing.to_dicts(), "notices": notices.to_dicts(),
        "deadline": records.deadline_days}


def sponsor_context(request: Request, user: WebUser, snapshot: Snapshot,
                    row: dict[str, Any], session: Session) -> dict[str, Any]:
    """What ``sponsor.html`` shows of the sponsor in ``row`` (a snapshot row)."""
    from serving.web.pages.model import model_estimates
    from serving.web.sponsor_data import load_sponsor_records

    lang = common.language(request)
    t = translator(lang)
    fmt = common.Formats(lang)
    view = common.ranking_view(request, snapshot)
    serving = common.serving_state(request)
    sponsor_id = row["sponsor_id"]
    history = snapshot.history_of(sponsor_id)
    history_svg = time_chart(
        "history", t("sponsor.history"), t("sponsor.history_desc"),
        [Series(t("col.score"), [(h["as_of"], float(h["score"])) for h in history],
                "series-0", "line")], y_format=fmt.score, y_min=0)
    records = None
    if serving.thresholds is not None:
        try:
            records = load_sponsor_records(request.app.state.settings.warehouse_dir,
                                           sponsor_id, snapshot.as_of, serving.thresholds)
        except FileNotFoundError:
            records = None
    wage = turnover = delays = None
    if records is not None:
        wage = _wage_chart(records, t, fmt)
        turnover = _turnover_chart(records, t, fmt)
        delays = _delay_chart(records, t, fmt)
    inspections = (serving.context.inspections_of(sponsor_id)
                   if serving.context is not None else [])
    secret = request.app.state.settings.secret_key.get_secret_value()
    # Another analyst's key id is a credential's name: shown as a pseudonym (admins see it).
    reviews = [{"review": r, "findings": findings_of(r),
                "key_id": shown_key_id(r.key_id, user.caller, secret)}
               for r in reviews_of(session, sponsor_id)]
    version = str(row.get("model_version"))
    estimates = model_estimates(request, version)
    return {"active": "ranking", "snapshot": snapshot, "row": row,
            "total": snapshot.frame.height,
            "meaning": evidence_meaning(float(row["score"]), (estimates or {}).get(
                "calibration_evidence"), lang, version),
            "reasons": _reason_rows(row, view, fmt), "history": history,
            "history_svg": history_svg, "wage": wage, "turnover": turnover, "delays": delays,
            "inspections": inspections, "reviews": reviews, "outcomes": OUTCOMES,
            "findings": FINDINGS, "today": datetime.now(UTC).date(),
            "saved": request.query_params.get("saved"), "errors": [], "form": {}}


def sponsor_not_found(request: Request, user: WebUser, sponsor_id: str,
                      snapshot: Snapshot) -> HTMLResponse:
    t = translator(common.language(request))
    return common.render(request, "error.html", user, 404,
                         message=t("sponsor.not_found", sponsor_id=sponsor_id,
                                   as_of=snapshot.as_of))


@router.get("/sponsors/{sponsor_id}", response_class=HTMLResponse)
def sponsor_page(sponsor_id: str, request: Request, user: common.PageUser) -> Response:
    started = time.perf_counter()
    snapshot = common.serving_state(request).snapshot
    if snapshot is None:
        return common.no_snapshot(request, user)
    row = snapshot.row(sponsor_id)
    if row is None:
        return sponsor_not_found(request, user, sponsor_id, snapshot)
    common.record_audit(request, user, SPONSOR_PAGE, [sponsor_id], snapshot)
    with Session(request.app.state.engine) as session:
        context = sponsor_context(request, user, snapshot, row, session)
    response = common.render(request, "sponsor.html", user, **context)
    return common.with_server_timing(response, started)
