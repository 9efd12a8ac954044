"""Administration: reload the champion and the snapshot, manage API keys (admin only)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool

from serving.audit import key_event_row
from serving.db import ApiKey
from serving.deps import AUTH_RESPONSES, AdminKey, AuditDep, DbSession, SettingsDep
from serving.keys import issue_key, list_keys, revoke_key
from serving.schemas import ErrorOut, KeyCreated, KeyIn, KeyOut, ReloadResult
from serving.state import ServingState, load_state
from sponsorwatch.settings import redact_credentials

router = APIRouter(prefix="/v1/admin", tags=["admin"], responses=AUTH_RESPONSES)


@router.post("/reload", response_model=ReloadResult,
             responses={503: {"model": ErrorOut,
                              "description": "Nothing could be loaded; the old pair stays"}})
async def reload(request: Request, caller: AdminKey, settings: SettingsDep) -> ReloadResult:
    """Load the current champion and the latest snapshot without a restart. A part that
    fails to load keeps serving its previous version."""
    current: ServingState = request.app.state.serving
    fresh = await run_in_threadpool(load_state, settings, current)
    request.app.state.serving = fresh
    metrics = request.app.state.metrics
    metrics.reloads.labels("partial" if fresh.problems else "ok").inc()
    request.app.state.refresh_gauges()
    if fresh.model is None or fresh.snapshot is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, redact_credentials(
            "; ".join(f"{k}: {v}" for k, v in fresh.problems.items())))
    message = ("loaded" if not fresh.problems else redact_credentials(
        "kept previous " + "; ".join(f"{k} ({v})" for k, v in fresh.problems.items())))
    return ReloadResult(reloaded=not fresh.problems, model_version=fresh.model.version,
                        snapshot_as_of=fresh.snapshot.as_of, message=message)


def _key_out(key: ApiKey) -> KeyOut:
    return KeyOut(key_id=key.key_id, role=key.role, label=key.label,
                  created_at=key.created_at, revoked_at=key.revoked_at)


@router.post("/keys", response_model=KeyCreated, status_code=status.HTTP_201_CREATED)
def create_key(body: KeyIn, caller: AdminKey, session: DbSession,
               settings: SettingsDep, audit: AuditDep) -> KeyCreated:
    """Issue a key; the clear key is in this response only. The audit trail records who
    issued it."""
    issued = issue_key(session, settings.secret_key.get_secret_value(), body.role, body.label)
    row = session.get(ApiKey, issued.key_id)
    audit.record(key_event_row(caller.key_id, caller.role.value, "POST /v1/admin/keys",
                               issued.key_id, issued.role.value, body.label))
    return KeyCreated(**_key_out(row).model_dump(), api_key=issued.api_key)


@router.get("/keys", response_model=list[KeyOut])
def get_keys(caller: AdminKey, session: DbSession) -> list[KeyOut]:
    """Every key ever issued (ids and roles, never the keys)."""
    return [_key_out(k) for k in list_keys(session)]


@router.delete("/keys/{key_id}", response_model=KeyOut,
               responses={404: {"model": ErrorOut, "description": "No such key"}})
def delete_key(key_id: str, request: Request, caller: AdminKey, session: DbSession,
               audit: AuditDep) -> KeyOut:
    """Revoke a key; it stops working at once in this process, within 4 s in the others.
    The audit trail records who revoked it."""
    key = revoke_key(session, key_id)
    if key is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no key {key_id[:64]!r}")
    request.app.state.keys.forget(key_id)
    audit.record(key_event_row(caller.key_id, caller.role.value, "DELETE /v1/admin/keys/{id}",
                               key.key_id, key.role, key.label))
    return _key_out(key)
