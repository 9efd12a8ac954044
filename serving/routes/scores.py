"""Scores for a case system: by sponsor id from the served snapshot, or from raw records."""

from __future__ import annotations

from fastapi import APIRouter, Response

from serving.audit import audit_row
from serving.deps import AUTH_RESPONSES, AuditDep, CaseSystemKey, MetricsDep, SnapshotDep
from serving.schemas import ScoreRequest, ScoreResponse

router = APIRouter(prefix="/v1/scores", tags=["scores"], responses=AUTH_RESPONSES)

SCORES_ENDPOINT = "POST /v1/scores"


@router.post("", response_model=ScoreResponse)
async def score_sponsors(body: ScoreRequest, caller: CaseSystemKey, snapshot: SnapshotDep,
                         audit: AuditDep, metrics: MetricsDep) -> Response:
    """Score, rank, band and top reasons of 1 to 1,000 sponsors from the served snapshot.
    Ids not in the ranking are listed under ``not_found``; the rest are still answered."""
    content, found = snapshot.score_response(body.sponsor_ids)
    if found:
        audit.record(audit_row(caller.key_id, caller.role.value, SCORES_ENDPOINT, found,
                               snapshot.model_version, snapshot.as_of))
        metrics.sponsors_revealed.labels(SCORES_ENDPOINT).inc(len(found))
    return Response(content, media_type="application/json")
