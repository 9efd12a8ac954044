"""API keys and roles.

A key looks like ``sw_<key_id>_<secret>``. The database stores only the public ``key_id``
and an HMAC-SHA256 of the whole key under the service secret (``SPONSORWATCH_SECRET_KEY``),
so a leaked database does not leak usable keys; rotating the secret invalidates every key.
Verified keys are cached in memory for a short time so a request costs one HMAC and one
dict lookup; a revocation through the API takes effect at once in that process, one made
with the CLI within ``CACHE_SECONDS``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from serving.db import ApiKey, utc_now

CACHE_SECONDS = 30.0
_MAX_CACHED = 10_000
V = TypeVar("V")


class Role(StrEnum):
    """What a key may do. ``admin`` may do everything."""

    CASE_SYSTEM = "case-system"
    ANALYST = "analyst"
    ADMIN = "admin"


@dataclass(frozen=True)
class Caller:
    """The verified key behind a request."""

    key_id: str
    role: Role

    def may(self, role: Role) -> bool:
        return self.role is Role.ADMIN or self.role is role


@dataclass(frozen=True)
class IssuedKey:
    key_id: str
    role: Role
    api_key: str


def hash_key(secret: str, api_key: str) -> str:
    return hmac.new(secret.encode(), api_key.encode(), hashlib.sha256).hexdigest()


def issue_key(session: Session, secret: str, role: Role | str, label: str = "") -> IssuedKey:
    """Create a key of ``role``; the clear key is returned once and never stored."""
    role = Role(role)
    key_id = secrets.token_hex(4)
    api_key = f"sw_{key_id}_{secrets.token_urlsafe(24)}"
    session.add(ApiKey(key_id=key_id, key_hash=hash_key(secret, api_key), role=role.value,
                       label=label, created_at=utc_now()))
    session.commit()
    return IssuedKey(key_id=key_id, role=role, api_key=api_key)


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.key_id)))


def revoke_key(session: Session, key_id: str) -> ApiKey | None:
    """Revoke a key by id; None when no such key exists. Revoking twice keeps the first date."""
    key = session.get(ApiKey, key_id)
    if key is None:
        return None
    if key.revoked_at is None:
        key.revoked_at = utc_now()
        session.commit()
    return key


class ExpiringCache(Generic[V]):
    """Answers kept for ``seconds`` (misses included), thread-safe for writers; reads take no
    lock so that a hit is cheap enough for the event loop. Emptied when ``max_entries``
    is reached, which only a flood of made-up keys does."""

    def __init__(self, seconds: float, max_entries: int = _MAX_CACHED) -> None:
        self._seconds = seconds
        self._max_entries = max_entries
        self._entries: dict[str, tuple[V, float]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> tuple[bool, V | None]:
        """(hit, value); a hit may carry None (a remembered miss)."""
        entry = self._entries.get(key)
        if entry is not None and entry[1] > time.monotonic():
            return True, entry[0]
        return False, None

    def put(self, key: str, value: V) -> None:
        with self._lock:
            if len(self._entries) >= self._max_entries:
                self._entries.clear()
            self._entries[key] = (value, time.monotonic() + self._seconds)

    def drop(self, matches: Callable[[str, V], bool]) -> None:
        """Forget every entry for which ``matches(key, value)`` holds."""
        with self._lock:
            for key, (value, _) in list(self._entries.items()):
                if matches(key, value):
                    del self._entries[key]


class KeyVerifier:
    """Checks presented keys against the database through a small in-memory cache."""

    def __init__(self, engine: Engine, secret: str, cache_seconds: float = CACHE_SECONDS):
        self._engine = engine
        self._secret = secret
        self._cache: ExpiringCache[Caller | None] = ExpiringCache(cache_seconds)

    def cached(self, api_key: str) -> tuple[bool, Caller | None]:
        """(hit, caller) from the cache alone; cheap enough for the event loop."""
        return self._cache.get(hash_key(self._secret, api_key))

    def verify(self, api_key: str) -> Caller | None:
        """The caller for ``api_key``, or None when it is unknown or revoked."""
        hit, caller = self.cached(api_key)
        if hit:
            return caller
        digest = hash_key(self._secret, api_key)
        with Session(self._engine) as session:
            row = session.scalar(select(ApiKey).where(ApiKey.key_hash == digest))
        caller = (Caller(row.key_id, Role(row.role))
                  if row is not None and row.revoked_at is None else None)
        self._cache.put(digest, caller)
        return caller

    def forget(self, key_id: str) -> None:
        """Drop a key from the cache (after a revocation in this process)."""
        self._cache.drop(lambda _, caller: caller is not None and caller.key_id == key_id)
