"""What every page shares: the signed-in analyst (``PageUser``), rendering a template with
the page headers, texts and number formats of the session's language, and the audit row
for every response that shows sponsors' scores.

Pages read the same in-memory snapshot and write the same review storage and audit trail
as the API; every response that shows sponsors' scores is written to the audit trail
under a page endpoint name (``GET /sponsors/{id}``, without the API's ``/v1``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from serving.audit import audit_row
from serving.state import ServingState, Snapshot
from serving.web.i18n import (
    Language,
    code_text,
    euro,
    feature_text,
    feature_value,
    language_or_default,
    number,
    percent,
    translator,
)
from serving.web.ranking import RankingView
from serving.web.session import (
    PAGE_ROLES,
    KeyStatus,
    SignInRequired,
    WebUser,
    csrf_token,
    end_session,
    request_target,
    session_user,
)

TEMPLATES_DIR = Path(__file__).parents[1] / "templates"
templates = Jinja2Templates(directory=TEMPLATES_DIR)
templates.env.trim_blocks = True
templates.env.lstrip_blocks = True

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


def render(request: Request, name: str, user: WebUser | None, status_code: int = 200,
           **context: Any) -> HTMLResponse:
    lang = language(request)
    return templates.TemplateResponse(request, name, {
        "t": translator(lang), "lang": lang, "user": user, "csrf": csrf_token(request),
        "fmt": Formats(lang), "here": request_target(request), **context},
        status_code=status_code, headers=PAGE_HEADERS)


def with_server_timing(response: Response, started: float) -> Response:
    """``response`` with the time since ``started`` (``time.perf_counter``) as a
    Server-Timing header."""
    response.headers["Server-Timing"] = f"app;dur={1000 * (time.perf_counter() - started):.1f}"
    return response


def key_status(request: Request) -> KeyStatus:
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
    status = key_status(request)
    hit, role = status.cached(user.key_id)
    if not hit:
        role = await run_in_threadpool(status.role_of, user.key_id)
    if role is None or role not in PAGE_ROLES:
        end_session(request)
        raise SignInRequired(request_target(request))
    return WebUser(user.key_id, role, user.csrf)


PageUser = Annotated[WebUser, Depends(page_user)]


def serving_state(request: Request) -> ServingState:
    return request.app.state.serving


def no_snapshot(request: Request, user: WebUser) -> HTMLResponse:
    from serving.deps import in_words

    problem = in_words(serving_state(request).problems.get("snapshot", "not loaded"))
    return render(request, "error.html", user, 503,
                  message=translator(language(request))("error.no_snapshot", problem=problem))


def ranking_view(request: Request, snapshot: Snapshot) -> RankingView:
    return request.app.state.ranking_cache.view(snapshot)


def record_audit(request: Request, user: WebUser, endpoint: str, sponsor_ids: list[str],
                 snapshot: Snapshot, detail: dict[str, Any] | None = None) -> None:
    """Write the sponsors a response shows to the audit trail (none: no row)."""
    if not sponsor_ids:
        return
    request.app.state.audit.record(audit_row(user.key_id, user.role.value, endpoint,
                                             sponsor_ids, snapshot.model_version,
                                             snapshot.as_of, detail=detail))
    request.app.state.metrics.sponsors_revealed.labels(endpoint).inc(len(sponsor_ids))


def last_decisions(request: Request) -> dict[str, str]:
    """Each reviewed sponsor's latest decision (inspect or dismiss)."""
    return request.app.state.review_index.decisions(request.app.state.engine)
