"""API keys and roles.

A key looks like ``sw_<key_id>_<secret>``. The database stores only the public ``key_id``
and an HMAC-SHA256 of the whole key under the service secret (``SPONSORWATCH_SECRET_KEY``),
so a leaked database does not leak usable keys; rotating the secret invalidates every key.
Verified keys are cached in memory for a short time so a request costs one HMAC and one
dict lookup; a revocation through the API takes effect at once in that process, and in
every other worker (or made with the CLI) within ``CACHE_SECONDS`` (4 s).
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

#: How long a valid key is trusted without looking at the database (revocation delay).
CACHE_SECONDS = 4.0
#: How long an unknown key is remembered as unknown (a key issued meanwhile waits that long).
MISS_SECONDS = 4.0
_MAX_CACHED = 10_000
V = TypeVar("V")


class Role(StrEnum):
    """What a key may do. ``admin`` may do everything."""

    CASE_SYSTEM = "case-system"
    ANALYST = "analyst"
    #: An analyst who also assigns cases and gives the second approval (four-eyes).
    LEAD = "lead"
    ADMIN = "admin"


@dataclass(frozen=True)
class Caller:
    """The verified key behind a request."""

    key_id: str
    role: Role

    def may(self, role: Role) -> bool:
        # A lead is an analyst with more duties: every analyst route admits a lead too.
        return (self.role is Role.ADMIN or self.role is role
                or (role is Role.ANALYST and self.role is Role.LEAD))


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
    """Answers kept for ``seconds``, thread-safe for writers; reads take no lock so that a
    hit is cheap enough for the event loop. At ``max_entries`` the expired entries go
    first, then the oldest half: never everything at once."""

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
            if key not in self._entries and len(self._entries) >= self._max_entries:
                self._make_room()
            self._entries[key] = (value, time.monotonic() + self._seconds)

    def _make_room(self) -> None:
        now = time.monotonic()
        fresh = {k: e for k, e in self._entries.items() if e[1] > now}
        if len(fresh) >= self._max_entries:  # dicts keep insertion order: oldest first
            fresh = dict(list(fresh.items())[len(fresh) // 2:])
        self._entries = fresh

    def __len__(self) -> int:
        return len(self._entries)

    def drop(self, matches: Callable[[str, V], bool]) -> None:
        """Forget every entry for which ``matches(key, value)`` holds."""
        with self._lock:
            for key, (value, _) in list(self._entries.items()):
                if matches(key, value):
                    del self._entries[key]


class KeyVerifier:
    """Checks presented keys against the database through a small in-memory cache.

    Valid keys and unknown ones are kept apart: a flood of made-up keys fills only the
    cache of misses (its own bound), never evicting a valid key. A valid key is trusted
    from the cache for ``cache_seconds`` (at most 4 s by default), then looked up again
    (one indexed query per key and worker): a revocation made anywhere (another worker,
    the CLI) takes effect everywhere within that time."""

    def __init__(self, engine: Engine, secret: str, cache_seconds: float = CACHE_SECONDS,
                 miss_seconds: float = MISS_SECONDS, max_misses: int = _MAX_CACHED):
        self._engine = engine
        self._secret = secret
        self._valid: ExpiringCache[Caller] = ExpiringCache(cache_seconds)
        self._unknown: ExpiringCache[None] = ExpiringCache(miss_seconds, max_misses)

    def cached(self, api_key: str) -> tuple[bool, Caller | None]:
        """(hit, caller) from the cache alone; cheap enough for the event loop."""
        digest = hash_key(self._secret, api_key)
        hit, caller = self._valid.get(digest)
        if hit:
            return True, caller
        return self._unknown.get(digest)

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
        if caller is None:
            self._unknown.put(digest, None)
        else:
            self._valid.put(digest, caller)
        return caller

    def forget(self, key_id: str) -> None:
        """Drop a key from the cache (after a revocation in this process)."""
        self._valid.drop(lambda _, caller: caller is not None and caller.key_id == key_id)


def shown_key_id(key_id: str, viewer: Caller, secret: str) -> str:
    """The key id a viewer may see on a record: its own and, for admins, everyone's; other
    analysts see a stable pseudonym (``~`` and 8 hex digits), enough to tell reviewers
    apart without learning a key id."""
    if viewer.role is Role.ADMIN or viewer.key_id == key_id or not key_id:
        return key_id
    return "~" + hmac.new(secret.encode(), f"key-id:{key_id}".encode(),
                          hashlib.sha256).hexdigest()[:8]
