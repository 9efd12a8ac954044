"""Signing in and out with an analyst key, the language switch, and ``/`` (the ranking)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

import serving.web.pages.common as common
from serving.keys import KeyVerifier
from serving.web.i18n import language_or_default, translator
from serving.web.session import (
    PAGE_ROLES,
    SignInThrottle,
    csrf_ok,
    end_session,
    safe_next,
    session_user,
    start_session,
)

router = APIRouter(include_in_schema=False)


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
    return common.render(request, "sign_in.html", None, next=safe_next(next), notice=notice,
                         error=None)


@router.post("/sign-in", response_class=HTMLResponse)
async def sign_in(request: Request) -> Response:
    form = await request.form()
    target = safe_next(str(form.get("next") or ""))
    t = translator(common.language(request))
    if not csrf_ok(request, form.get("csrf")):
        return common.render(request, "sign_in.html", None, 400, next=target, notice=None,
                             error=t("form.csrf"))
    throttle: SignInThrottle = request.app.state.sign_in_throttle
    client = request.client.host if request.client else "unknown"
    if throttle.blocked(client):
        return common.render(request, "sign_in.html", None, 429, next=target, notice=None,
                             error=t("signin.throttled"))
    api_key = str(form.get("api_key") or "").strip()
    verifier: KeyVerifier = request.app.state.keys
    caller = await run_in_threadpool(verifier.verify, api_key) if api_key else None
    if caller is None:
        throttle.failed(client)
        return common.render(request, "sign_in.html", None, 401, next=target, notice=None,
                             error=t("signin.bad_key"))
    throttle.succeeded(client)
    if caller.role not in PAGE_ROLES:
        return common.render(request, "sign_in.html", None, 403, next=target, notice=None,
                             error=t("signin.wrong_role", role=caller.role.value))
    start_session(request, caller)
    common.key_status(request).forget(caller.key_id)
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
