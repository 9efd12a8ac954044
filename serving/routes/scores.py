"""Scores for a case system: by sponsor id from the served snapshot, or from raw records."""

from __future__ import annotations

import hashlib

from fastapi import APIRouter, HTTPException, Request, Response, status
from fastapi.exceptions import RequestValidationError

from serving.audit import audit_row
from serving.deps import (
    AUTH_RESPONSES,
    AuditDep,
    CaseSystemKey,
    MetricsDep,
    ModelDep,
    SnapshotDep,
)
from serving.records import RecordsInvalid
from serving.schemas import (
    RecordScore,
    RecordsRequest,
    RecordsResponse,
    ScoreRequest,
    ScoreResponse,
    UnknownSponsor,
)

router = APIRouter(prefix="/v1/scores", tags=["scores"], responses=AUTH_RESPONSES)

SCORES_ENDPOINT = "POST /v1/scores"


@router.post("", response_model=ScoreResponse)
async def score_sponsors(body: ScoreRequest, caller: CaseSystemKey, request: Request) -> Response:
    """Score, rank, band and top reasons of 1 to 1,000 sponsors from the served snapshot.
    Ids not in the ranking are listed under ``not_found``; the rest are still answered."""
    # The hot path reads app.state itself: each extra dependency costs FastAPI more than
    # the lookup and the pre-serialised answer together.
    state = request.app.state
    snapshot = state.serving.snapshot
    if snapshot is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "no snapshot loaded")
    content, found = snapshot.score_response(body.sponsor_ids)
    if found:
        state.audit.record(audit_row(caller.key_id, caller.role.value, SCORES_ENDPOINT, found,
                                     snapshot.model_version, snapshot.as_of))
        state.metrics.sponsors_revealed.labels(SCORES_ENDPOINT).inc(len(found))
    return Response(content, media_type="application/json")


RECORDS_ENDPOINT = "POST /v1/scores/records"


@router.post("/records", response_model=RecordsResponse)
async def score_records(body: RecordsRequest, caller: CaseSystemKey, loaded: ModelDep,
                        snapshot: SnapshotDep, request: Request, audit: AuditDep,
                        metrics: MetricsDep) -> RecordsResponse:
    """Score sponsors from their raw records (contract tables as lists of rows): validated
    with the ingest rules, features built with the batch code, scored by the served model.

    Send the ``sponsors`` row of each sponsor to score with all its records; links to other
    sponsors (shared address or officer) are looked up in the service's warehouse.
    Records breaking the contract get 422 listing each broken rule with its table, row
    and column (``loc``) in the usual validation-error shape. Concurrent requests are
    scored together in small batches (``serving.batching``)."""
    as_of = body.as_of or snapshot.as_of
    rows = body.table_rows()
    try:
        results = await request.app.state.records_batcher.score(rows, as_of)
    except RecordsInvalid as exc:
        raise RequestValidationError(exc.problems) from exc
    scored = {r["sponsor_id"] for r in results}
    not_scored = [UnknownSponsor(sponsor_id=sid, reason=f"not a recognised sponsor on {as_of}")
                  for sid in dict.fromkeys(r["sponsor_id"] for r in rows["sponsors"])
                  if sid not in scored]
    if results:
        # The inputs' hash and the scores returned: the same records sent again to the same
        # model version must give these scores (a score can be reproduced and checked).
        # The bytes as received (FastAPI keeps them): exact, and far cheaper than dumping
        # the parsed rows again.
        inputs = hashlib.sha256(await request.body()).hexdigest()
        audit.record(audit_row(
            caller.key_id, caller.role.value, RECORDS_ENDPOINT, sorted(scored),
            loaded.version, as_of,
            detail={"inputs_sha256": inputs, "as_of_requested": body.as_of,
                    "scores": {r["sponsor_id"]: {"score": r["score"], "band": r["band"],
                                                 "rank_in_snapshot": r["rank_in_snapshot"]}
                               for r in results}}))
        metrics.sponsors_revealed.labels(RECORDS_ENDPOINT).inc(len(results))
    return RecordsResponse(as_of=as_of, model_version=loaded.version,
                           results=[RecordScore(**r) for r in results], not_scored=not_scored)
