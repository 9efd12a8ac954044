"""Sign-in to the pages with an analyst key, kept in a signed session cookie.

The cookie (starlette's SessionMiddleware, signed with ``settings.secret_key`` by
itsdangerous) holds the key's public id and role, never the key itself, plus a CSRF token
and the chosen language. It is HttpOnly and SameSite=Strict, Secure outside development.
A session lives at most :data:`SESSION_SECONDS`; a revoked key ends its sessions within
:data:`KEY_CHECK_SECONDS` (its row is looked up again after that long).
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from urllib.parse import quote

from fastapi import Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from serving.db import ApiKey
from serving.keys import Caller, ExpiringCache, Role

SESSION_COOKIE = "sponsorwatch_session"
SESSION_SECONDS = 8 * 3600
KEY_CHECK_SECONDS = 30.0
#: Roles that may use the analyst pages.
PAGE_ROLES = (Role.ANALYST, Role.ADMIN)


class SignInRequired(Exception):
    """Raised by page dependencies; answered with a redirect to the sign-in page."""

    def __init__(self, next_url: str, message: str = "") -> None:
        super().__init__(next_url)
        self.next_url = next_url
        self.message = message


@dataclass(frozen=True)
class WebUser:
    """The signed-in analyst of a page request."""

    key_id: str
    role: Role
    csrf: str

    @property
    def caller(self) -> Caller:
        return Caller(self.key_id, self.role)


class KeyStatus:
    """Whether a key id is still valid, looked up at most every KEY_CHECK_SECONDS."""

    def __init__(self, engine: Engine, seconds: float = KEY_CHECK_SECONDS) -> None:
        self._engine = engine
        self._cache: ExpiringCache[Role | None] = ExpiringCache(seconds)

    def cached(self, key_id: str) -> tuple[bool, Role | None]:
        return self._cache.get(key_id)

    def role_of(self, key_id: str) -> Role | None:
        """The role of an unrevoked key, else None (hits the database on a cache miss)."""
        hit, role = self.cached(key_id)
        if hit:
            return role
        with Session(self._engine) as session:
            row = session.get(ApiKey, key_id)
        role = Role(row.role) if row is not None and row.revoked_at is None else None
        self._cache.put(key_id, role)
        return role

    def forget(self, key_id: str) -> None:
        self._cache.drop(lambda cached_id, _: cached_id == key_id)


class SignInThrottle:
    """Refuses sign-in from a client address after ``max_failures`` failed attempts within
    ``window`` seconds (per process), so keys cannot be guessed at speed."""

    def __init__(self, max_failures: int = 10, window: float = 300.0) -> None:
        self._max = max_failures
        self._window = window
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> list[float]:
        recent = [t for t in self._failures.get(client, []) if now - t < self._window]
        if recent:
            self._failures[client] = recent
        else:
            self._failures.pop(client, None)
        return recent

    def blocked(self, client: str) -> bool:
        with self._lock:
            return len(self._recent(client, time.monotonic())) >= self._max

    def failed(self, client: str) -> None:
        with self._lock:
            if len(self._failures) > 10_000:
                self._failures.clear()
            self._recent(client, time.monotonic())
            self._failures.setdefault(client, []).append(time.monotonic())

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)


def safe_next(target: str | None, default: str = "/sponsors") -> str:
    """A local path to go to after sign-in; anything else (other hosts, ``//x``,
    back-slashes) falls back to ``default`` so the form cannot redirect off site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def sign_in_url(next_url: str) -> str:
    return f"/sign-in?next={quote(next_url, safe='/')}"


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use."""
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(24)
        request.session["csrf"] = token
    return token


def csrf_ok(request: Request, submitted: object) -> bool:
    expected = request.session.get("csrf")
    return bool(expected) and isinstance(submitted, str) and secrets.compare_digest(
        expected, submitted)


def start_session(request: Request, caller: Caller) -> None:
    """Replace whatever the session held (but the language) with this caller."""
    lang = request.session.get("lang")
    request.session.clear()
    request.session.update({"key_id": caller.key_id, "role": caller.role.value,
                            "csrf": secrets.token_urlsafe(24), "since": int(time.time())})
    if lang:
        request.session["lang"] = lang


def end_session(request: Request) -> None:
    """Forget the caller; the language choice stays."""
    lang = request.session.get("lang")
    request.session.clear()
    if lang:
        request.session["lang"] = lang


def session_user(request: Request) -> WebUser | None:
    """The signed-in user from the cookie alone (no key check), or None."""
    session = request.session
    key_id, role, csrf, since = (session.get("key_id"), session.get("role"),
                                 session.get("csrf"), session.get("since"))
    if not (key_id and role and csrf and isinstance(since, int)):
        return None
    if time.time() - since > SESSION_SECONDS:
        return None
    try:
        return WebUser(str(key_id), Role(role), str(csrf))
    except ValueError:
        return None


def request_target(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")
