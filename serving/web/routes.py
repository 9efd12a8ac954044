"""The pages: sign-in, the ranked list and its exports, a sponsor's page with its review
form, the model page, and the language switch.

Pages read the same in-memory snapshot and write the same review storage and audit trail
as the API; every response that shows sponsors' scores is written to the audit trail
under a page endpoint name (``GET /sponsors/{id}``, without the API's ``/v1``).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import polars as pl
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from sqlalchemy.orm import Session

from serving.audit import audit_row
from serving.db import Review
from serving.keys import KeyVerifier
from serving.reviews import ReviewConflict, add_review, findings_of, record_outcome, reviews_of
from serving.schemas import OutcomeIn, ReviewIn
from serving.state import ServingState, Snapshot
from serving.web import charts
from serving.web.i18n import (
    Language,
    calibrated_meaning,
    code_text,
    euro,
    feature_text,
    feature_value,
    language_or_default,
    number,
    percent,
    translator,
)
from serving.web.ranking import PAGE_SIZES, SORT_KEYS, ListQuery, RankingView, parse_query
from serving.web.session import (
    PAGE_ROLES,
    KeyStatus,
    SignInRequired,
    SignInThrottle,
    WebUser,
    csrf_ok,
    csrf_token,
    end_session,
    request_target,
    safe_next,
    session_user,
    start_session,
)
from sponsorwatch.contract import FINDINGS, OUTCOMES

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.trim_blocks = True
templates.env.lstrip_blocks = True

LIST_PAGE = "GET /sponsors"
SPONSOR_PAGE = "GET /sponsors/{id}"
EXPORT_PAGE = "GET /sponsors/export"
REVIEW_PAGE = "POST /sponsors/{id}/reviews"
#: Migrants drawn in the wage chart (those furthest below the criterion first).
WAGE_CHART_MIGRANTS = 12


# --- helpers -----------------------------------------------------------------------------

def language(request: Request) -> Language:
    return language_or_default(request.session.get("lang"))


class Formats:
    """Number and text formatting for one language, as templates use it."""

    def __init__(self, lang: Language) -> None:
        self.lang = lang

    def number(self, value: float | None, decimals: int = 0) -> str:
        return number(value, self.lang, decimals)

    def percent(self, value: float | None, decimals: int = 0) -> str:
        return percent(value, self.lang, decimals)

    def euro(self, value: float | None) -> str:
        return euro(value, self.lang)

    def score(self, value: float | None) -> str:
        return number(value, self.lang, 2)

    def code(self, value: str | None) -> str:
        return code_text(self.lang, value)

    def codes(self, values: list[str] | None) -> str:
        return ", ".join(code_text(self.lang, v) for v in values or [])

    def feature(self, name: str, english: str) -> str:
        return feature_text(self.lang, name, english)

    def value(self, value: float | None, unit: str | None) -> str:
        return feature_value(value, unit, self.lang)


#: Pages load only their own files; no frames, no inline script or style, no caching of
#: sponsor data (the back button after sign-out must not show it).
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' data:; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


def render(request: Request, name: str, user: WebUser | None, status_code: int = 200,
           **context: Any) -> HTMLResponse:
    lang = language(request)
    return templates.TemplateResponse(request, name, {
        "t": translator(lang), "lang": lang, "user": user, "csrf": csrf_token(request),
        "fmt": Formats(lang), "here": request_target(request), **context},
        status_code=status_code, headers=PAGE_HEADERS)


def _key_status(request: Request) -> KeyStatus:
    status = getattr(request.app.state, "web_key_status", None)
    if status is None:
        status = KeyStatus(request.app.state.engine)
        request.app.state.web_key_status = status
    return status


async def page_user(request: Request) -> WebUser:
    """The signed-in analyst; otherwise a redirect to the sign-in page (via the
    SignInRequired handler). A revoked key or a changed role ends the session."""
    user = session_user(request)
    if user is None:
        raise SignInRequired(request_target(request))
    status = _key_status(request)
    hit, role = status.cached(user.key_id)
    if not hit:
        role = await run_in_threadpool(status.role_of, user.key_id)
    if role is None or role not in PAGE_ROLES:
        end_session(request)
        raise SignInRequired(request_target(request))
    return WebUser(user.key_id, role, user.csrf)


PageUser = Annotated[WebUser, Depends(page_user)]


def _serving(request: Request) -> ServingState:
    return request.app.state.serving


def _no_snapshot(request: Request, user: WebUser) -> HTMLResponse:
    problem = _serving(request).problems.get("snapshot", "not loaded")
    return render(request, "error.html", user, 503,
                  message=translator(language(request))("error.no_snapshot", problem=problem))


def _view(request: Request, snapshot: Snapshot) -> RankingView:
    return request.app.state.ranking_cache.view(snapshot)


def _audit(request: Request, user: WebUser, endpoint: str, sponsor_ids: list[str],
           snapshot: Snapshot) -> None:
    if not sponsor_ids:
        return
    request.app.state.audit.record(audit_row(user.key_id, user.role.value, endpoint,
                                             sponsor_ids, snapshot.model_version,
                                             snapshot.as_of))
    request.app.state.metrics.sponsors_revealed.labels(endpoint).inc(len(sponsor_ids))


def last_decisions(request: Request) -> dict[str, str]:
    """Each reviewed sponsor's latest decision (inspect or dismiss)."""
    return request.app.state.review_index.decisions(request.app.state.engine)


# --- sign-in, sign-out, language ---------------------------------------------------------

@router.get("/")
async def home() -> RedirectResponse:
    return RedirectResponse("/sponsors", status_code=303)


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_form(request: Request, next: str = "/sponsors",  # noqa: A002
                       signed_out: bool = False) -> Response:
    if session_user(request) is not None and not signed_out:
        return RedirectResponse(safe_next(next), status_code=303)
    notice = "signin.signed_out" if signed_out else (
        "signin.expired" if next != "/sponsors" else None)
    return render(request, "sign_in.html", None, next=safe_next(next), notice=notice,
                  error=None)


@router.post("/sign-in", response_class=HTMLResponse)
async def sign_in(request: Request) -> Response:
    form = await request.form()
    target = safe_next(str(form.get("next") or ""))
    t = translator(language(request))
    if not csrf_ok(request, form.get("csrf")):
        return render(request, "sign_in.html", None, 400, next=target, notice=None,
                      error=t("form.csrf"))
    throttle: SignInThrottle = request.app.state.sign_in_throttle
    client = request.client.host if request.client else "unknown"
    if throttle.blocked(client):
        return render(request, "sign_in.html", None, 429, next=target, notice=None,
                      error=t("signin.throttled"))
    api_key = str(form.get("api_key") or "").strip()
    verifier: KeyVerifier = request.app.state.keys
    caller = await run_in_threadpool(verifier.verify, api_key) if api_key else None
    if caller is None:
        throttle.failed(client)
        return render(request, "sign_in.html", None, 401, next=target, notice=None,
                      error=t("signin.bad_key"))
    throttle.succeeded(client)
    if caller.role not in PAGE_ROLES:
        return render(request, "sign_in.html", None, 403, next=target, notice=None,
                      error=t("signin.wrong_role", role=caller.role.value))
    start_session(request, caller)
    _key_status(request).forget(caller.key_id)
    return RedirectResponse(target, status_code=303)


@router.post("/sign-out")
async def sign_out(request: Request) -> RedirectResponse:
    form = await request.form()
    if csrf_ok(request, form.get("csrf")):
        end_session(request)
    return RedirectResponse("/sign-in?signed_out=true", status_code=303)


@router.post("/language")
async def switch_language(request: Request) -> RedirectResponse:
    """Remember the language in the session (it outlives sign-out)."""
    form = await request.form()
    request.session["lang"] = language_or_default(form.get("lang"))
    return RedirectResponse(safe_next(str(form.get("next") or "")), status_code=303)


# --- the ranked list and its exports -----------------------------------------------------

def _selection(request: Request, snapshot: Snapshot
               ) -> tuple[RankingView, ListQuery, dict[str, str], pl.DataFrame]:
    """The sponsors the list's filters select (what the page shows and exports export):
    the view, the query, the last review decision per sponsor and the selected rows."""
    view = _view(request, snapshot)
    query = parse_query(request.query_params)
    decisions = last_decisions(request)
    return view, query, decisions, view.select(query, set(decisions))


@router.get("/sponsors", response_class=HTMLResponse)
def ranking_page(request: Request, user: PageUser) -> Response:
    started = time.perf_counter()
    snapshot = _serving(request).snapshot
    if snapshot is None:
        return _no_snapshot(request, user)
    view, query, decisions, rows = _selection(request, snapshot)
    page_rows, page, pages = view.page(rows, query)
    items = page_rows.to_dicts()
    from features.registry import FEATURES

    for item in items:
        spec = FEATURES.get(item["top_feature"] or "")
        item["top_text"] = (feature_text(language(request), item["top_feature"],
                                         spec.description) if spec else item["top_feature"])
        item["top_value_text"] = feature_value(item["top_value"], spec.unit if spec else None,
                                               language(request))
        item["decision"] = decisions.get(item["sponsor_id"])
    _audit(request, user, LIST_PAGE, [i["sponsor_id"] for i in items], snapshot)
    response = render(request, "ranking.html", user, active="ranking", snapshot=snapshot,
                      view=view, query=query, items=items, total=rows.height, page=page,
                      pages=pages, page_sizes=PAGE_SIZES, sort_keys=SORT_KEYS)
    response.headers["Server-Timing"] = f"app;dur={1000 * (time.perf_counter() - started):.1f}"
    return response


def _export(request: Request, user: WebUser, fmt: str) -> Response:
    from serving.web.export import export_frame, to_csv, to_xlsx

    snapshot = _serving(request).snapshot
    if snapshot is None:
        return _no_snapshot(request, user)
    view, query, decisions, rows = _selection(request, snapshot)
    frame = export_frame(view, rows, language(request), decisions)
    _audit(request, user, f"{EXPORT_PAGE}.{fmt}", rows["sponsor_id"].to_list(), snapshot)
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
def export_csv(request: Request, user: PageUser) -> Response:
    return _export(request, user, "csv")


@router.get("/sponsors/export.xlsx")
def export_xlsx(request: Request, user: PageUser) -> Response:
    return _export(request, user, "xlsx")


# --- one sponsor -------------------------------------------------------------------------

def _reason_rows(row: dict[str, Any], view: RankingView, fmt: Formats) -> list[dict[str, Any]]:
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


def _wage_chart(records: Any, t: Any, fmt: Formats) -> dict[str, Any]:
    import polars as pl

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
        series.append(charts.Series(person, points, charts.PALETTE[i % len(charts.PALETTE)],
                                    "line", below))
    criteria = (wages.filter(pl.col("threshold").is_not_null())
                .group_by("scheme", "period").agg(pl.col("threshold").first())
                .sort("scheme", "period"))
    for i, scheme in enumerate(criteria["scheme"].unique(maintain_order=True).to_list()):
        own = criteria.filter(pl.col("scheme") == scheme)
        series.append(charts.Series(
            f"{t('col.criterion')} {scheme}",
            list(zip(own["period"].to_list(), own["threshold"].to_list(), strict=True)),
            f"criterion criterion-{i % 4}", "step"))
    svg = charts.time_chart("wages", t("sponsor.wages"),
                            t("sponsor.wages_desc", as_of=records.as_of), series,
                            y_format=fmt.euro, y_min=0)
    table = (wages.filter(pl.col("person_key").is_in(shown))
             .sort("person_key", "period").to_dicts())
    return {"svg": svg, "rows": table, "shown": len(shown), "total": total,
            "legend": [(s.name, s.css) for s in series]}


def _sponsor_context(request: Request, user: WebUser, snapshot: Snapshot,
                     row: dict[str, Any], session: Session) -> dict[str, Any]:
    from serving.web.sponsor_data import load_sponsor_records

    lang = language(request)
    t = translator(lang)
    fmt = Formats(lang)
    view = _view(request, snapshot)
    serving = _serving(request)
    sponsor_id = row["sponsor_id"]
    history = snapshot.history_of(sponsor_id)
    history_svg = charts.time_chart(
        "history", t("sponsor.history"), t("sponsor.history_desc"),
        [charts.Series(t("col.score"), [(h["as_of"], float(h["score"])) for h in history],
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
        quarters = [f"{q.year}-Q{(q.month - 1) // 3 + 1}"
                    for q in records.turnover["quarter"].to_list()]
        turnover = {
            "svg": charts.bar_chart(
                "turnover", t("sponsor.turnover"), t("sponsor.turnover_desc"), quarters,
                [(t("sponsor.hires"), records.turnover["hires"].to_list(), "series-0"),
                 (t("sponsor.departures"), records.turnover["departures"].to_list(),
                  "series-1")], y_format=lambda v: fmt.number(v)),
            "rows": list(zip(quarters, records.turnover["hires"].to_list(),
                             records.turnover["departures"].to_list(), strict=True))}
        filing = records.filing_delays
        notices = records.notice_delays
        delay_series = [
            charts.Series(t("sponsor.filing_delay"),
                          list(zip(filing["period"].to_list(),
                                   [float(v) for v in filing["delay_days"].to_list()],
                                   strict=True)), "series-0", "line"),
            charts.Series(t("sponsor.notice_delay"),
                          list(zip(notices["event_on"].to_list(),
                                   [float(v) for v in notices["delay_days"].to_list()],
                                   strict=True)), "series-1", "dots")]
        delays = {
            "svg": charts.time_chart(
                "delays", t("sponsor.delays"),
                t("sponsor.delays_desc", days=records.deadline_days), delay_series,
                y_format=lambda v: fmt.number(v), y_min=0,
                references=[(records.deadline_days, t("sponsor.deadline"))]),
            "filing": filing.to_dicts(), "notices": notices.to_dicts(),
            "deadline": records.deadline_days}
    inspections = (serving.context.inspections_of(sponsor_id)
                   if serving.context is not None else [])
    reviews = [{"review": r, "findings": findings_of(r)} for r in reviews_of(session, sponsor_id)]
    return {"active": "ranking", "snapshot": snapshot, "row": row,
            "total": snapshot.frame.height,
            "meaning": calibrated_meaning(float(row["score"]), lang),
            "reasons": _reason_rows(row, view, fmt), "history": history,
            "history_svg": history_svg, "wage": wage, "turnover": turnover, "delays": delays,
            "inspections": inspections, "reviews": reviews, "outcomes": OUTCOMES,
            "findings": FINDINGS, "today": datetime.now(UTC).date(),
            "saved": request.query_params.get("saved"), "errors": [], "form": {}}


@router.get("/sponsors/{sponsor_id}", response_class=HTMLResponse)
def sponsor_page(sponsor_id: str, request: Request, user: PageUser) -> Response:
    started = time.perf_counter()
    snapshot = _serving(request).snapshot
    if snapshot is None:
        return _no_snapshot(request, user)
    row = snapshot.row(sponsor_id)
    if row is None:
        t = translator(language(request))
        return render(request, "error.html", user, 404,
                      message=t("sponsor.not_found", sponsor_id=sponsor_id,
                                as_of=snapshot.as_of))
    _audit(request, user, SPONSOR_PAGE, [sponsor_id], snapshot)
    with Session(request.app.state.engine) as session:
        context = _sponsor_context(request, user, snapshot, row, session)
    response = render(request, "sponsor.html", user, **context)
    response.headers["Server-Timing"] = f"app;dur={1000 * (time.perf_counter() - started):.1f}"
    return response


def _form_errors(exc: ValidationError) -> list[str]:
    return [f"{'.'.join(str(p) for p in e['loc']) or 'form'}: {e['msg']}" for e in exc.errors()]


@router.post("/sponsors/{sponsor_id}/reviews", response_class=HTMLResponse)
async def post_review(sponsor_id: str, request: Request, user: PageUser) -> Response:
    """Record a decision with the same storage and audit row as the API's
    ``POST /v1/sponsors/{id}/reviews``."""
    form = await request.form()
    return await run_in_threadpool(_save_review, sponsor_id, request, user, dict(form))


def _save_review(sponsor_id: str, request: Request, user: WebUser,
                 form: dict[str, Any]) -> Response:
    snapshot = _serving(request).snapshot
    if snapshot is None:
        return _no_snapshot(request, user)
    row = snapshot.row(sponsor_id)
    t = translator(language(request))
    if row is None:
        return render(request, "error.html", user, 404,
                      message=t("sponsor.not_found", sponsor_id=sponsor_id,
                                as_of=snapshot.as_of))
    errors: list[str] = []
    body = None
    if not csrf_ok(request, form.get("csrf")):
        errors.append(t("form.csrf"))
    else:
        try:
            body = ReviewIn(decision=form.get("decision") or None, note=form.get("note") or "",
                            decided_on=form.get("decided_on") or None)
        except ValidationError as exc:
            errors = _form_errors(exc)
    with Session(request.app.state.engine) as session:
        if body is None:
            context = _sponsor_context(request, user, snapshot, row, session)
            context.update(errors=errors, form=form)
            return render(request, "sponsor.html", user, 422, **context)
        add_review(session, sponsor_id, body.decision, body.note, user.key_id,
                   body.decided_on or datetime.now(UTC).date(), row["model_version"],
                   float(row["score"]), snapshot.as_of)
    _audit(request, user, REVIEW_PAGE, [sponsor_id], snapshot)
    return RedirectResponse(f"/sponsors/{sponsor_id}?saved=review#reviews", status_code=303)


@router.post("/reviews/{review_id}/outcome", response_class=HTMLResponse)
async def post_outcome(review_id: str, request: Request, user: PageUser) -> Response:
    form = await request.form()
    fields = {"csrf": form.get("csrf"), "outcome": form.get("outcome"),
              "closed_on": form.get("closed_on"), "findings": form.getlist("findings"),
              "fine_eur": form.get("fine_eur"), "note": form.get("note")}
    return await run_in_threadpool(_save_outcome, review_id, request, user, fields)


def _save_outcome(review_id: str, request: Request, user: WebUser,
                  form: dict[str, Any]) -> Response:
    t = translator(language(request))
    with Session(request.app.state.engine) as session:
        review = session.get(Review, review_id[:64])
        if review is None:
            return render(request, "error.html", user, 404, message=f"no review {review_id!r}")
        sponsor_id = review.sponsor_id
        errors: list[str] = []
        if not csrf_ok(request, form.get("csrf")):
            errors.append(t("form.csrf"))
        else:
            try:
                body = OutcomeIn(outcome=form.get("outcome") or None,
                                 closed_on=form.get("closed_on") or None,
                                 findings=list(form.get("findings") or []),
                                 fine_eur=form.get("fine_eur") or None,
                                 note=form.get("note") or "")
                record_outcome(session, review_id, body.outcome, body.closed_on,
                               list(body.findings), body.fine_eur, body.note, user.key_id)
            except ValidationError as exc:
                errors = _form_errors(exc)
            except ReviewConflict as exc:
                errors = [str(exc)]
        if not errors:
            return RedirectResponse(f"/sponsors/{sponsor_id}?saved=outcome#reviews",
                                    status_code=303)
        snapshot = _serving(request).snapshot
        row = snapshot.row(sponsor_id) if snapshot is not None else None
        if snapshot is None or row is None:
            return render(request, "error.html", user, 422, message="; ".join(errors))
        context = _sponsor_context(request, user, snapshot, row, session)
        context.update(errors=errors, form={**form, "review_id": review_id})
        return render(request, "sponsor.html", user, 422, **context)


# --- the model ---------------------------------------------------------------------------

def cached_model_card(request: Request, version: str) -> dict[str, Any] | None:
    """The card training cached for ``version`` (the cache only: no MLflow here), as
    ``GET /v1/model/card`` reads it."""
    from serving.routes.card import read_cached_card

    return read_cached_card(request.app.state.settings, version)


@router.get("/model", response_class=HTMLResponse)
def model_page(request: Request, user: PageUser) -> Response:
    from serving.routes.model import feature_infos, numeric_metrics, training_window

    serving = _serving(request)
    loaded = serving.model
    context: dict[str, Any] = {"active": "model", "loaded": loaded,
                               "problem": serving.problems.get("model", "not loaded"),
                               "snapshot": serving.snapshot}
    if loaded is not None:
        info = loaded.info
        stored = info.get("training_window") or {}
        card = cached_model_card(request, loaded.version)
        context.update(
            window=training_window(loaded), holdout_dates=stored.get("holdout_dates") or [],
            metrics=sorted(numeric_metrics(info).items()),
            features=feature_infos(loaded.model), card=card,
            fairness=(card or {}).get("fairness"))
    return render(request, "model.html", user, **context)


@router.get("/model/card", response_class=HTMLResponse)
def model_card_page(request: Request, user: PageUser) -> Response:
    """The served model's card (Markdown from ``training.model_card``) as a page."""
    from markdown_it import MarkdownIt
    from markupsafe import Markup

    from training.model_card import card_markdown

    loaded = _serving(request).model
    t = translator(language(request))
    card = cached_model_card(request, loaded.version) if loaded is not None else None
    if card is None:
        return render(request, "error.html", user, 404, message=t(
            "model.card_none", version=loaded.version if loaded is not None else "?"))
    # "js-default" leaves raw HTML in the Markdown escaped.
    html = MarkdownIt("js-default").render(card_markdown(card))
    return render(request, "card.html", user, active="model", card_html=Markup(html),
                  version=loaded.version)
