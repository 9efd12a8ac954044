"""Signing in and out (with the organisation's identity provider through OpenID Connect,
see ``serving.web.oidc``, or with a key), the language switch, and ``/`` (the ranking).

With OpenID Connect configured, ``/sign-in`` sends the browser to the provider; the key form
stays at ``/sign-in?method=key`` for administrators (analysts' keys are refused there, so
that the organisation's sign-in, and its offboarding, applies to every analyst)."""

from __future__ import annotations

import logging
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

import serving.web.oidc as oidc
import serving.web.pages.common as common
from serving.keys import Caller, KeyVerifier, Role
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
log = logging.getLogger("serving.oidc")


@router.get("/")
async def home() -> RedirectResponse:
    return RedirectResponse("/sponsors", status_code=303)


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_form(request: Request, next: str = "/sponsors",  # noqa: A002
                       signed_out: bool = False, method: str = "") -> Response:
    if session_user(request) is not None and not signed_out:
        return RedirectResponse(safe_next(next), status_code=303)
    with_oidc = oidc.oidc_enabled(request.app.state.settings)
    if with_oidc and method != "key" and not signed_out:
        return RedirectResponse(f"{oidc.LOGIN_PATH}?next={quote(safe_next(next), safe='/')}",
                                status_code=303)
    notice = "signin.signed_out" if signed_out else (
        "signin.expired" if next != "/sponsors" else None)
    return common.render(request, "sign_in.html", None, next=safe_next(next), notice=notice,
                         error=None, oidc=with_oidc)


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
    api_key = str(form.get("api_key") or "").strip()
    # Per address and per key: guessing one key's secret from many addresses is stopped too.
    if throttle.blocked(client, api_key):
        return common.render(request, "sign_in.html", None, 429, next=target, notice=None,
                             error=t("signin.throttled"))
    verifier: KeyVerifier = request.app.state.keys
    caller = await run_in_threadpool(verifier.verify, api_key) if api_key else None
    if caller is None:
        throttle.failed(client, api_key)
        return common.render(request, "sign_in.html", None, 401, next=target, notice=None,
                             error=t("signin.bad_key"))
    throttle.succeeded(client, api_key)
    if caller.role not in PAGE_ROLES:
        return common.render(request, "sign_in.html", None, 403, next=target, notice=None,
                             error=t("signin.wrong_role", role=caller.role.value))
    if oidc.oidc_enabled(request.app.state.settings) and caller.role is not Role.ADMIN:
        return common.render(request, "sign_in.html", None, 403, next=target, notice=None,
                             error=t("oidc.keys_admin_only"), oidc=True)
    start_session(request, caller)
    common.key_status(request).forget(caller.key_id)
    return RedirectResponse(target, status_code=303)


def _oidc_page(request: Request, status: int, message: str, target: str = "",
               retry: bool = False) -> Response:
    response = common.render(request, "sign_in_oidc.html", None, status, message=message,
                             target=target, retry=retry)
    oidc.clear_transaction_cookie(response, request.app.state.settings)
    return response


@router.get("/auth/oidc/login")
async def oidc_login(request: Request, next: str = "/sponsors") -> Response:  # noqa: A002
    """Start a sign-in at the identity provider: state, nonce and PKCE verifier go into
    the transaction cookie, the browser to the provider."""
    settings = request.app.state.settings
    t = translator(common.language(request))
    if not oidc.oidc_enabled(settings):
        return _oidc_page(request, 404, t("oidc.not_configured"))
    try:
        url, transaction = await oidc.begin(request, safe_next(next),
                                            request.session.get("lang"))
    except oidc.OidcConfigError as exc:
        log.error("oidc: %s", exc)
        return _oidc_page(request, 503, t("oidc.unavailable"))
    except Exception as exc:  # the provider's metadata could not be fetched
        log.warning("oidc: provider unreachable: %s", type(exc).__name__)
        return _oidc_page(request, 503, t("oidc.unavailable"), retry=True)
    response = RedirectResponse(url, status_code=303)
    oidc.set_transaction_cookie(response, settings, transaction)
    return response


@router.get("/auth/oidc/callback", name="oidc_callback")
async def oidc_callback(request: Request) -> Response:
    """The provider's answer: checked (state, code with the PKCE verifier, ID token with
    its nonce), then the session starts with the role the claim maps to, or a 403."""
    settings = request.app.state.settings
    t = translator(common.language(request))
    if not oidc.oidc_enabled(settings):
        return _oidc_page(request, 404, t("oidc.not_configured"))
    transaction = oidc.load_transaction(settings, request.cookies.get(oidc.TRANSACTION_COOKIE))
    try:
        claims = await oidc.finish(request, transaction)
    except oidc.SignInRefused as exc:
        log.warning("oidc: sign-in refused (%s) %s", exc.reason, exc.detail)
        return _oidc_page(request, exc.status, t(exc.reason), retry=True)
    except Exception as exc:  # the provider unreachable midway, a bad configuration
        log.warning("oidc: sign-in failed: %s", type(exc).__name__)
        return _oidc_page(request, 503, t("oidc.unavailable"), retry=True)
    assert transaction is not None
    actor = oidc.actor_id(claims, settings.oidc_issuer)
    role = oidc.role_from_claims(claims, settings.oidc_role_claim, oidc.role_map(settings),
                                 PAGE_ROLES)
    if role is None:
        log.warning("oidc: %s has no role for the pages (claim %s)", actor,
                    settings.oidc_role_claim)
        end_session(request)
        return _oidc_page(request, 403, t("oidc.no_role"))
    if transaction.lang:
        request.session["lang"] = transaction.lang
    start_session(request, Caller(actor, role), via="oidc")
    log.info("oidc: %s signed in as %s", actor, role.value)
    # A page of this site, not a redirect, moves on: the browser came from the provider's
    # site, and only a navigation started here sends the SameSite=Strict session cookie.
    # Encoded as a redirect's Location is: no control character can end the header or turn
    # the local path into another host ("/\t/x" is "//x" to a browser).
    target = quote(transaction.next_url, safe=":/%#?=@[]!$&'()*+,;")
    response = _oidc_page(request, 200, translator(common.language(request))(
        "oidc.signed_in"), target=target)
    response.headers["Refresh"] = f"0;url={target}"
    return response


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
