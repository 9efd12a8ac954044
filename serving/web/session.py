"""Sign-in to the pages with an analyst key, kept in a signed session cookie.

The cookie (starlette's SessionMiddleware, signed with ``settings.session_signing_secret``
by itsdangerous, never with the key-hashing secret) holds the key's public id and role,
never the key itself, plus a CSRF token and the chosen language. It is HttpOnly and
SameSite=Strict, Secure outside development (``settings.secure_cookies``).
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
KEY_CHECK_SECONDS = 4.0
#: Roles that may use the analyst pages.
PAGE_ROLES = (Role.ANALYST, Role.LEAD, Role.ADMIN)


class SignInRequired(Exception):
    """Raised by page dependencies; answered with a redirect to the sign-in page."""

    def __init__(self, next_url: str, message: str = "") -> None:
        super().__init__(next_url)
        self.next_url = next_url
        self.message = message


class OidcActor(str):
    """The key id of a user signed in through OpenID Connect (``oidc:<email or subject>``,
    see ``serving.web.oidc``): a plain string to the audit trail, carrying the role the
    provider's claim gave at sign-in (kept in the signed session; there is no key row)."""

    role: Role

    def __new__(cls, actor: str, role: Role) -> OidcActor:
        self = super().__new__(cls, actor)
        self.role = role
        return self


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
        if isinstance(key_id, OidcActor):  # no key row: the role came from the provider
            return True, key_id.role
        return self._cache.get(key_id)

    def role_of(self, key_id: str) -> Role | None:
        """The role of an unrevoked key, else None (hits the database on a cache miss)."""
        hit, role = self.cached(key_id)
        if hit or key_id.startswith("oidc:"):
            return role
        with Session(self._engine) as session:
            row = session.get(ApiKey, key_id)
        role = Role(row.role) if row is not None and row.revoked_at is None else None
        self._cache.put(key_id, role)
        return role

    def forget(self, key_id: str) -> None:
        self._cache.drop(lambda cached_id, _: cached_id == key_id)


class SignInThrottle:
    """Refuses sign-in after ``max_failures`` failed attempts within ``window`` seconds
    from one client address, and after ``max_key_failures`` against one key id (from
    anywhere), so keys cannot be guessed at speed, nor one key from many addresses.

    The client address is the connection's, or the one a trusted proxy forwarded
    (``SPONSORWATCH_TRUSTED_PROXIES``, applied by the app before this runs): behind a
    proxy, each analyst has their own count instead of sharing the proxy's. Counts are
    per process. At ``max_tracked`` addresses or keys the counts with the fewest failures
    are forgotten first (a blocked address stays blocked), never all at once."""

    def __init__(self, max_failures: int = 10, window: float = 300.0,
                 max_key_failures: int | None = None, max_tracked: int = 10_000) -> None:
        self._max = max_failures
        self._max_key = max_key_failures or 2 * max_failures
        self._window = window
        self._max_tracked = max_tracked
        self._failures: dict[str, list[float]] = {}
        self._key_failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, counts: dict[str, list[float]], who: str, now: float) -> list[float]:
        recent = [t for t in counts.get(who, []) if now - t < self._window]
        if recent:
            counts[who] = recent
        else:
            counts.pop(who, None)
        return recent

    def blocked(self, client: str, api_key: str | None = None) -> bool:
        now = time.monotonic()
        key_id = key_id_of(api_key)
        with self._lock:
            return (len(self._recent(self._failures, client, now)) >= self._max
                    or (key_id is not None
                        and len(self._recent(self._key_failures, key_id, now)) >= self._max_key))

    def failed(self, client: str, api_key: str | None = None) -> None:
        now = time.monotonic()
        key_id = key_id_of(api_key)
        with self._lock:
            self._count(self._failures, client, now)
            if key_id is not None:
                self._count(self._key_failures, key_id, now)

    def _count(self, counts: dict[str, list[float]], who: str, now: float) -> None:
        if who not in counts and len(counts) >= self._max_tracked:
            for stale in [w for w, times in counts.items() if now - times[-1] >= self._window]:
                del counts[stale]
            if len(counts) >= self._max_tracked:  # forget a tenth, fewest failures first
                fewest = sorted(counts, key=lambda w: len(counts[w]))
                for light in fewest[:max(1, self._max_tracked // 10)]:
                    del counts[light]
        self._recent(counts, who, now)
        counts.setdefault(who, []).append(now)

    def succeeded(self, client: str, api_key: str | None = None) -> None:
        with self._lock:
            self._failures.pop(client, None)


def key_id_of(api_key: str | None) -> str | None:
    """The public id in ``sw_<key_id>_<secret>`` (at most 16 characters), else None."""
    if not api_key or not api_key.startswith("sw_"):
        return None
    key_id = api_key[3:].split("_", 1)[0]
    return key_id[:16] or None


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


def start_session(request: Request, caller: Caller, via: str = "key") -> None:
    """Replace whatever the session held (but the language) with this caller; ``via`` is
    ``"oidc"`` for a user the identity provider signed in (``caller.key_id`` its actor)."""
    lang = request.session.get("lang")
    request.session.clear()
    request.session.update({"key_id": caller.key_id, "role": caller.role.value,
                            "csrf": secrets.token_urlsafe(24), "since": int(time.time())})
    if via == "oidc":
        request.session["via"] = "oidc"
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
        if session.get("via") == "oidc":
            return WebUser(OidcActor(str(key_id), Role(role)), Role(role), str(csrf))
        return WebUser(str(key_id), Role(role), str(csrf))
    except ValueError:
        return None


def request_target(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")
