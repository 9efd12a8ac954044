"""The ranked list of sponsors with its filters, and its exports (CSV and Excel) of the
same selection."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import polars as pl
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

import serving.web.pages.common as common
from serving.state import Snapshot
from serving.web.i18n import feature_text, feature_value
from serving.web.ranking import PAGE_SIZES, SORT_KEYS, ListQuery, RankingView, parse_query
from serving.web.session import WebUser

router = APIRouter(include_in_schema=False)

LIST_PAGE = "GET /sponsors"
EXPORT_PAGE = "GET /sponsors/export"


def _selection(request: Request, snapshot: Snapshot
               ) -> tuple[RankingView, ListQuery, dict[str, str], pl.DataFrame]:
    """The sponsors the list's filters select (what the page shows and exports export):
    the view, the query, the last review decision per sponsor and the selected rows."""
    view = common.ranking_view(request, snapshot)
    query = parse_query(request.query_params)
    decisions = common.last_decisions(request)
    return view, query, decisions, view.select(query, set(decisions))


@router.get("/sponsors", response_class=HTMLResponse)
def ranking_page(request: Request, user: common.PageUser) -> Response:
    started = time.perf_counter()
    snapshot = common.serving_state(request).snapshot
    if snapshot is None:
        return common.no_snapshot(request, user)
    view, query, decisions, rows = _selection(request, snapshot)
    page_rows, page, pages = view.page(rows, query)
    items = page_rows.to_dicts()
    from features.registry import FEATURES

    for item in items:
        spec = FEATURES.get(item["top_feature"] or "")
        item["top_text"] = (feature_text(common.language(request), item["top_feature"],
                                         spec.description) if spec else item["top_feature"])
        item["top_value_text"] = feature_value(item["top_value"], spec.unit if spec else None,
                                               common.language(request))
        item["decision"] = decisions.get(item["sponsor_id"])
    common.record_audit(request, user, LIST_PAGE, [i["sponsor_id"] for i in items], snapshot)
    response = common.render(request, "ranking.html", user, active="ranking",
                             snapshot=snapshot, view=view, query=query, items=items,
                             total=rows.height, page=page, pages=pages,
                             page_sizes=PAGE_SIZES, sort_keys=SORT_KEYS)
    return common.with_server_timing(response, started)


def _export(request: Request, user: WebUser, fmt: str) -> Response:
    from serving.web.export import export_frame, to_csv, to_xlsx

    snapshot = common.serving_state(request).snapshot
    if snapshot is None:
        return common.no_snapshot(request, user)
    view, query, decisions, rows = _selection(request, snapshot)
    frame = export_frame(view, rows, common.language(request), decisions)
    common.record_audit(request, user, f"{EXPORT_PAGE}.{fmt}", rows["sponsor_id"].to_list(),
                        snapshot)
    name = f"sponsorwatch-ranking-{snapshot.as_of}"
    if fmt == "csv":
        return Response(to_csv(frame), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"',
                                 "Cache-Control": "no-store"})
    about = {"as_of": str(snapshot.as_of), "model_version": snapshot.model_version,
             "filters": str(query.params(page=1)), "rows": str(frame.height),
             "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
             "exported_by_key": user.key_id,
             "note": "Scores rank sponsors for a human review; they never sanction by "
                     "themselves."}
    return Response(
        to_xlsx(frame, about),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"',
                 "Cache-Control": "no-store"})


@router.get("/sponsors/export.csv")
def export_csv(request: Request, user: common.PageUser) -> Response:
    return _export(request, user, "csv")


@router.get("/sponsors/export.xlsx")
def export_xlsx(request: Request, user: common.PageUser) -> Response:
    return _export(request, user, "xlsx")
