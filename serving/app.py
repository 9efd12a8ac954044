"""The FastAPI application factory.

``create_app(settings)`` builds the app; the lifespan opens the service database, starts
the audit writer and loads the champion model and latest snapshot once. Routers come from
``API_ROUTERS``; pages (issue 7) are added with ``create_app(settings, extra=[...])`` or by
mounting on the returned app at ``/``, which the API leaves free.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from serving.audit import AuditWriter, purge_audit
from serving.batching import RecordsBatcher, ScoringSetup
from serving.db import create_schema, make_engine, session_factory
from serving.keys import KeyVerifier
from serving.limits import BodyLimitMiddleware
from serving.metrics import MetricsMiddleware, ServiceMetrics
from serving.routes import admin, card, cases, health, model, reviews, scores, sponsors
from serving.state import ServingState, load_state
from serving.web import install_web
from sponsorwatch.settings import Settings

log = logging.getLogger("serving")

#: The API's routers, in the order they appear in the OpenAPI document.
API_ROUTERS: tuple[APIRouter, ...] = (scores.router, sponsors.router, reviews.router,
                                      model.router, card.router, admin.router, health.router)

DESCRIPTION = """Risk ranking of recognised sponsors of knowledge migrants, with reasons.

Scores rank sponsors for a **human review**; they never sanction by themselves. Every
response revealing a sponsor's score or features is written to the audit trail.
Send the API key in the `X-API-Key` header. Roles: `case-system` (scores, inspection
outcomes of cases), `analyst` (ranking, sponsor pages, reviews, own cases), `lead` (the
analyst's rights, assigning cases and the second pair of eyes), `admin` (everything,
reload, keys).
"""


def _lifespan(settings: Settings) -> Callable[[FastAPI], AsyncIterator[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.home.mkdir(parents=True, exist_ok=True)
        engine = make_engine(settings.service_database_url)
        await run_in_threadpool(create_schema, engine)
        purged = await run_in_threadpool(purge_audit, engine, settings.audit_retention_days)
        if purged:
            log.info("audit: purged %d rows older than %d days", purged,
                     settings.audit_retention_days)
        audit = AuditWriter(engine, spill_file=settings.home / "serving" / "audit-spill.jsonl")
        audit.start()
        app.state.engine = engine
        app.state.sessions = session_factory(engine)
        app.state.keys = KeyVerifier(engine, settings.secret_key.get_secret_value())
        app.state.audit = audit
        app.state.serving = await run_in_threadpool(load_state, settings)
        app.state.refresh_gauges()
        batcher = RecordsBatcher()
        batcher.start(lambda: ScoringSetup(app.state.serving, settings.inspection_capacity,
                                           settings.use_sector))
        app.state.records_batcher = batcher
        try:
            yield
        finally:
            await batcher.stop()
            await run_in_threadpool(audit.close)
            engine.dispose()

    return lifespan


def create_app(settings: Settings | None = None,
               extra: Iterable[Callable[[FastAPI], None]] = ()) -> FastAPI:
    """The scoring service for ``settings`` (from the environment when omitted).

    ``extra`` are functions called with the app after the API routers are included (for
    example to mount the browser pages at ``/``).
    """
    settings = settings or Settings()
    app = FastAPI(title="sponsorwatch", version="1", description=DESCRIPTION,
                  lifespan=_lifespan(settings), docs_url=None, redoc_url=None)
    _install_docs(app)
    metrics = ServiceMetrics()
    metrics.watch_monitoring(settings.home / "monitoring")  # `sponsorwatch monitor` reports
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.serving = ServingState(model=None, snapshot=None,
                                     problems={"model": "starting", "snapshot": "starting"})

    def refresh_gauges() -> None:
        state: ServingState = app.state.serving
        metrics.model_info.clear()
        if state.model is not None:
            metrics.model_info.labels(state.model.version, state.model.source).set(1)
        metrics.snapshot_sponsors.set(len(state.snapshot.row_of) if state.snapshot else 0)

    app.state.refresh_gauges = refresh_gauges
    metrics.audit_pending.set_function(
        lambda: getattr(getattr(app.state, "audit", None), "pending", 0))
    metrics.audit_written.set_function(
        lambda: getattr(getattr(app.state, "audit", None), "written", 0))
    for router in API_ROUTERS:
        app.include_router(router)
    app.include_router(cases.router)  # /v1/cases (issue 18)
    app.add_exception_handler(Exception, _unexpected_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    # Added last, so it runs first: nothing reads a body before its size is checked.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_request_bytes)
    install_web(app)  # the analyst pages at / (issue 7)
    _secure_session_cookie(app, settings)
    if settings.trusted_proxies.strip():
        # The client address (sign-in throttle) from X-Forwarded-For, from these only.
        from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=[
            h.strip() for h in settings.trusted_proxies.split(",") if h.strip()])
    for extend in extra:
        extend(app)
    return app


def _secure_session_cookie(app: FastAPI, settings: Settings) -> None:
    """The pages' session cookie: signed with the session secret (never the key-hashing
    one) and Secure outside development (``Settings.secure_cookies``)."""
    from starlette.middleware.sessions import SessionMiddleware

    for middleware in app.user_middleware:
        if middleware.cls is SessionMiddleware:
            middleware.kwargs.update(secret_key=settings.session_signing_secret,
                                     https_only=settings.secure_cookies)


#: Swagger UI and ReDoc files, shipped by the ``fastapi-offline`` package: /docs works
#: offline and loads nothing from another origin.
DOCS_ASSETS = "/docs-assets"


def _install_docs(app: FastAPI) -> None:
    from pathlib import Path

    import fastapi_offline
    from fastapi.openapi.docs import (
        get_redoc_html,
        get_swagger_ui_html,
        get_swagger_ui_oauth2_redirect_html,
    )
    from fastapi.responses import HTMLResponse
    from fastapi.staticfiles import StaticFiles

    assets = Path(fastapi_offline.__file__).parent / "static"
    app.mount(DOCS_ASSETS, StaticFiles(directory=assets), name="docs-assets")
    redirect = "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json", title="sponsorwatch API",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png", oauth2_redirect_url=redirect)

    @app.get(redirect, include_in_schema=False)
    async def swagger_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url="/openapi.json", title="sponsorwatch API",
                              redoc_js_url=f"{DOCS_ASSETS}/redoc.standalone.js",
                              redoc_favicon_url=f"{DOCS_ASSETS}/favicon.png",
                              with_google_fonts=False)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    """A bug must not leak a traceback; it is logged with the request path."""
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse({"detail": "internal error; it has been logged"}, status_code=500)


#: A 422 answer names at most this many problems; the rest are counted.
MAX_PROBLEMS = 100


async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 naming each field and rule, never echoing what was sent (a hostile or huge body
    must not come back, nor be logged back)."""
    problems = [{"type": str(e.get("type", "")), "loc": list(e.get("loc", ())),
                 "msg": str(e.get("msg", ""))[:300]} for e in exc.errors()]
    body: dict[str, Any] = {"detail": problems[:MAX_PROBLEMS]}
    if len(problems) > MAX_PROBLEMS:
        body["more_problems"] = len(problems) - MAX_PROBLEMS
    return JSONResponse(body, status_code=422)


def app_from_environment() -> FastAPI:
    """Factory for ``uvicorn --factory serving.app:app_from_environment`` (several workers)."""
    return create_app(Settings())
