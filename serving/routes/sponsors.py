"""The ranking for analysts: a filtered, paged list and one sponsor's full page."""

from __future__ import annotations

from typing import Annotated

import polars as pl
from fastapi import APIRouter, HTTPException, Query, Response, status

from serving.audit import audit_row
from serving.deps import (
    AUTH_RESPONSES,
    AnalystKey,
    AuditDep,
    DbSession,
    MetricsDep,
    ServingDep,
    SettingsDep,
    SnapshotDep,
)
from serving.reviews import reviews_of
from serving.routes.reviews import review_out
from serving.schemas import (
    ErrorOut,
    FeatureValue,
    InspectionOut,
    RankedPage,
    ScorePoint,
    SponsorDetail,
    SponsorId,
)
from serving.state import Snapshot

router = APIRouter(prefix="/v1/sponsors", tags=["sponsors"], responses=AUTH_RESPONSES)

LIST_ENDPOINT = "GET /v1/sponsors"
DETAIL_ENDPOINT = "GET /v1/sponsors/{id}"


def filter_ranking(snapshot: Snapshot, sector: str | None = None, band: str | None = None,
                   postcode: str | None = None, min_score: float | None = None,
                   max_score: float | None = None, q: str | None = None) -> pl.DataFrame:
    """Snapshot rows (sponsor_id only, in rank order) matching every given filter."""
    conditions = []
    if sector:
        conditions.append(pl.col("sector") == sector)
    if band:
        conditions.append(pl.col("band") == band)
    if postcode:
        conditions.append(pl.col("postcode4").str.starts_with(postcode))
    if min_score is not None:
        conditions.append(pl.col("score") >= min_score)
    if max_score is not None:
        conditions.append(pl.col("score") <= max_score)
    if q:
        conditions.append(pl.col("name").str.to_lowercase().str.contains(q.lower(), literal=True)
                          | pl.col("sponsor_id").str.starts_with(q))
    frame = snapshot.frame.select("sponsor_id", "sector", "band", "postcode4", "score", "name")
    if conditions:
        frame = frame.filter(pl.all_horizontal(conditions).fill_null(False))
    return frame.select("sponsor_id")


@router.get("", response_model=RankedPage)
async def list_sponsors(
    caller: AnalystKey, snapshot: SnapshotDep, audit: AuditDep, metrics: MetricsDep,
    sector: Annotated[str | None, Query(max_length=100, description="Exact sector")] = None,
    band: Annotated[str | None, Query(max_length=20)] = None,
    postcode: Annotated[str | None, Query(pattern=r"^[0-9]{1,4}$",
                                          description="Postcode area: first 1 to 4 digits")] = None,
    min_score: Annotated[float | None, Query(ge=0, le=1)] = None,
    max_score: Annotated[float | None, Query(ge=0, le=1)] = None,
    q: Annotated[str | None, Query(
        min_length=1, max_length=100,
        description="Part of the name, or start of the KvK number")] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Response:
    """The served ranking, highest risk first, filtered and paged."""
    matching = filter_ranking(snapshot, sector, band, postcode, min_score, max_score, q)
    start = (page - 1) * page_size
    ids = matching["sponsor_id"].slice(start, page_size).to_list()
    if ids:
        audit.record(audit_row(caller.key_id, caller.role.value, LIST_ENDPOINT, ids,
                               snapshot.model_version, snapshot.as_of))
        metrics.sponsors_revealed.labels(LIST_ENDPOINT).inc(len(ids))
    return Response(snapshot.page_response(ids, matching.height, page, page_size),
                    media_type="application/json")


@router.get("/{sponsor_id}", response_model=SponsorDetail,
            responses={404: {"model": ErrorOut, "description": "Not in the ranking"}})
def get_sponsor(sponsor_id: SponsorId, caller: AnalystKey, snapshot: SnapshotDep,
                serving: ServingDep, session: DbSession, audit: AuditDep,
                metrics: MetricsDep, settings: SettingsDep) -> SponsorDetail:
    """One sponsor: score, reasons, every feature with its description, score history
    across snapshots, past inspections and reviews."""
    from features.registry import FEATURES

    row = snapshot.row(sponsor_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            f"sponsor {sponsor_id} is not in the ranking of {snapshot.as_of}")
    features = [FeatureValue(name=name, value=row[name],
                             description=FEATURES[name].description if name in FEATURES else name,
                             family=FEATURES[name].family if name in FEATURES else "unknown",
                             unit=FEATURES[name].unit if name in FEATURES else None)
                for name in snapshot.feature_columns]
    inspections = (serving.context.inspections_of(sponsor_id)
                   if serving.context is not None else [])
    audit.record(audit_row(caller.key_id, caller.role.value, DETAIL_ENDPOINT, [sponsor_id],
                           row["model_version"], snapshot.as_of))
    metrics.sponsors_revealed.labels(DETAIL_ENDPOINT).inc()
    return SponsorDetail(
        **{k: row[k] for k in ("sponsor_id", "name", "sbi_code", "sector", "postcode4", "score",
                               "rank", "band", "reasons", "model_version", "as_of")},
        features=features,
        history=[ScorePoint(**point) for point in snapshot.history_of(sponsor_id)],
        inspections=[InspectionOut(**i) for i in inspections],
        reviews=[review_out(r, caller, settings.secret_key.get_secret_value())
                 for r in reviews_of(session, sponsor_id)],
    )
