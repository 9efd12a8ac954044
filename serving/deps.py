"""Dependencies as ``Annotated`` aliases, so route signatures stay short.

Dependencies that do no I/O are ``async def``: FastAPI runs a plain ``def`` dependency in
the thread pool, a hop that costs more than the whole of a POST /v1/scores.

Everything lives on ``app.state`` (set up in the lifespan): ``settings``, ``engine``,
``sessions``, ``keys`` (KeyVerifier), ``audit`` (AuditWriter), ``metrics`` and ``serving``
(the ServingState of model and snapshot).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader
from sqlalchemy.orm import Session

from serving.audit import AuditWriter
from serving.keys import Caller, KeyVerifier, Role
from serving.metrics import ServiceMetrics
from serving.state import LoadedModel, ServingState, Snapshot
from sponsorwatch.settings import Settings

API_KEY_HEADER = "X-API-Key"
_api_key = APIKeyHeader(name=API_KEY_HEADER, auto_error=False,
                        description="Issued by `sponsorwatch keys create --role ROLE`")


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_serving(request: Request) -> ServingState:
    return request.app.state.serving


#: What may not leave the service in an answer: paths, URLs, hosts, addresses.
_REVEALING = re.compile(r"\S*[/\\@]\S*|[A-Za-z][\w-]*(?:\.[\w-]+)+|\b\d{1,3}(?:\.\d{1,3}){3}\b")


def in_words(problem: str) -> str:
    """A load problem without its causes: each ``; ``-separated part is cut before the
    first ``: `` (where an exception's text starts), then paths, URLs and host names go.
    The whole text is in the service's log."""
    parts = [part.split(": ", 1)[0] for part in problem.split("; ")]
    return _REVEALING.sub("…", "; ".join(parts))[:300]


def _loaded(request: Request, part: str):  # noqa: ANN202 - model or snapshot
    state: ServingState = request.app.state.serving
    loaded = getattr(state, part)
    if loaded is None:
        problem = in_words(state.problems.get(part, "not loaded"))
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"no {part} loaded: {problem}")
    return loaded


async def get_model(request: Request) -> LoadedModel:
    return _loaded(request, "model")


async def get_snapshot(request: Request) -> Snapshot:
    return _loaded(request, "snapshot")


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


async def get_audit(request: Request) -> AuditWriter:
    return request.app.state.audit


async def get_metrics(request: Request) -> ServiceMetrics:
    return request.app.state.metrics


async def current_caller(request: Request,
                         api_key: Annotated[str | None, Security(_api_key)]) -> Caller:
    """The verified key of the request (401 when missing, unknown or revoked)."""
    if not api_key:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED,
                            f"missing API key: send it in the {API_KEY_HEADER} header",
                            headers={"WWW-Authenticate": API_KEY_HEADER})
    verifier: KeyVerifier = request.app.state.keys
    hit, caller = verifier.cached(api_key)
    if not hit:
        caller = await run_in_threadpool(verifier.verify, api_key)
    if caller is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown or revoked API key",
                            headers={"WWW-Authenticate": API_KEY_HEADER})
    request.state.caller = caller
    return caller


CurrentKey = Annotated[Caller, Depends(current_caller)]


def require_role(role: Role):  # noqa: ANN201 - FastAPI dependency factory
    """A dependency that lets ``role`` (and admin) through and refuses others with 403."""

    async def check(caller: CurrentKey) -> Caller:
        if not caller.may(role):
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                f"role {caller.role.value!r} may not do this; needs {role.value!r}")
        return caller

    return check


CaseSystemKey = Annotated[Caller, Depends(require_role(Role.CASE_SYSTEM))]
AnalystKey = Annotated[Caller, Depends(require_role(Role.ANALYST))]
AdminKey = Annotated[Caller, Depends(require_role(Role.ADMIN))]

SettingsDep = Annotated[Settings, Depends(get_settings)]
ServingDep = Annotated[ServingState, Depends(get_serving)]
ModelDep = Annotated[LoadedModel, Depends(get_model)]
SnapshotDep = Annotated[Snapshot, Depends(get_snapshot)]
DbSession = Annotated[Session, Depends(get_session)]
AuditDep = Annotated[AuditWriter, Depends(get_audit)]
MetricsDep = Annotated[ServiceMetrics, Depends(get_metrics)]

#: Error responses shared by every keyed endpoint, for the OpenAPI document.
AUTH_RESPONSES: dict[int | str, dict] = {
    400: {"description": "The body could not be read (not UTF-8 JSON)"},
    401: {"description": "Missing, unknown or revoked API key"},
    403: {"description": "The key's role may not use this endpoint"},
}
