"""Liveness, readiness and Prometheus metrics (no key needed; they reveal no sponsor)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from serving.deps import MetricsDep, ServingDep
from serving.schemas import Health, Readiness
from serving.state import version_mismatch

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process is up."""
    return Health(status="ok")


@router.get("/readyz", response_model=Readiness,
            responses={503: {"model": Readiness, "description": "Model or snapshot missing, or of "
                                                       "different versions"}})
async def readyz(serving: ServingDep, response: Response) -> Readiness:
    """Ready when a model and a score snapshot scored by that very model are loaded."""
    mismatch = version_mismatch(serving.model, serving.snapshot)
    checks = {
        "model": "ok" if serving.model else serving.problems.get("model", "not loaded"),
        "snapshot": "ok" if serving.snapshot else serving.problems.get("snapshot", "not loaded"),
        "versions": mismatch or "ok",
    }
    ready = serving.model is not None and serving.snapshot is not None and mismatch is None
    if not ready:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Readiness(ready=ready, model_version=serving.model.version if serving.model else None,
                     snapshot_as_of=serving.snapshot.as_of if serving.snapshot else None,
                     checks=checks)


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {CONTENT_TYPE_LATEST: {}},
                             "description": "Prometheus text format"}})
async def metrics(metrics: MetricsDep) -> Response:
    """Prometheus metrics of this process."""
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
