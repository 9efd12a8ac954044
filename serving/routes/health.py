"""Liveness, readiness and Prometheus metrics (no key needed; they reveal no sponsor)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from serving.deps import MetricsDep, ServingDep, in_words
from serving.schemas import Health, Readiness
from serving.state import ServingState, version_mismatch

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process is up."""
    return Health(status="ok")


@router.get("/readyz", response_model=Readiness,
            responses={503: {"model": Readiness, "description": "Model or snapshot missing, or of "
                                                       "different versions"}})
async def readyz(serving: ServingDep, response: Response) -> Readiness:
    """Ready when a model and a score snapshot scored by that very model are loaded. The
    checks say why not in words; the causes (file paths, hosts, errors) are in the
    service's log only, as this answer needs no key."""
    model, snapshot = serving.model, serving.snapshot
    checks = {"model": _model_check(serving), "snapshot": _snapshot_check(serving),
              "versions": version_mismatch(model, snapshot) or "ok"}  # versions only
    ready = model is not None and snapshot is not None and checks["versions"] == "ok"
    if not ready:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Readiness(ready=ready, model_version=model.version if model else None,
                     snapshot_as_of=snapshot.as_of if snapshot else None, checks=checks)


def _problem(serving: ServingState, part: str, what: str) -> str:
    problem = serving.problems.get(part, "not loaded")
    if problem == "starting":
        return "starting"
    return f"{what}: {in_words(problem)} (the service log has the details)"


def _model_check(serving: ServingState) -> str:
    if serving.model is None:
        return _problem(serving, "model", "no model loaded")
    if serving.model.source == "cache":
        return "ok (the local copy: the registry could not be read)"
    return "ok" if "model" not in serving.problems else (
        "ok (the previous model: the champion could not be loaded)")


def _snapshot_check(serving: ServingState) -> str:
    if serving.snapshot is None:
        return _problem(serving, "snapshot", "no score snapshot loaded")
    return "ok" if "snapshot" not in serving.problems else (
        "ok (the previous score snapshot: a newer one could not be served)")


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {CONTENT_TYPE_LATEST: {}},
                             "description": "Prometheus text format"}})
async def metrics(metrics: MetricsDep) -> Response:
    """Prometheus metrics of this process."""
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
