"""The analyst workspace in the browser (issue 7): server-rendered pages at ``/`` of the
same FastAPI app as the API.

``install_web(app)`` adds what the pages need to an app built by
``serving.app.create_app``: the signed session cookie, the page routes and the shipped
static files (``/static``). Every asset is in this package: no CDN at run time.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from serving.web.ranking import RankingCache, ReviewIndex
from serving.web.routes import router
from serving.web.session import (
    SESSION_COOKIE,
    SESSION_SECONDS,
    SignInRequired,
    SignInThrottle,
    sign_in_url,
)

STATIC_DIR = Path(__file__).parent / "static"


def install_web(app: FastAPI) -> None:
    """Add the pages, their session cookie and static files to ``app``."""
    settings = app.state.settings
    app.add_middleware(
        SessionMiddleware, secret_key=settings.secret_key.get_secret_value(),
        session_cookie=SESSION_COOKIE, max_age=SESSION_SECONDS, same_site="strict",
        https_only=settings.environment == "production", path="/")
    app.state.ranking_cache = RankingCache()
    app.state.review_index = ReviewIndex()
    app.state.sign_in_throttle = SignInThrottle()
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_exception_handler(SignInRequired, _to_sign_in)


async def _to_sign_in(request: Request, exc: Exception) -> RedirectResponse:
    assert isinstance(exc, SignInRequired)
    return RedirectResponse(sign_in_url(exc.next_url), status_code=303)
