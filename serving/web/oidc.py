"""Analysts sign in through the organisation's identity provider: OpenID Connect,
authorization code with PKCE (S256), through Authlib's Starlette client.

What this module owns (the routes are in ``serving.web.pages.auth``):

- the client (:func:`oidc_client`), configured from the settings' ``oidc_*`` fields and
  checked once (:func:`check_config`): https issuer outside loopback, known roles only;
- the sign-in *transaction* (state, nonce, PKCE verifier, where to go after, language),
  kept in its own short-lived signed cookie rather than in the session. The session cookie
  is SameSite=Strict, so a browser coming back from the provider (another site) does not
  send it; the transaction cookie is SameSite=Lax, HttpOnly, scoped to ``/auth/oidc`` and
  valid :data:`TRANSACTION_SECONDS`;
- the role from a claim (:func:`role_from_claims`) and the actor the audit trail names
  (:func:`actor_id`).

Authlib checks the ID token's signature (the provider's JWKS), issuer, audience, expiry
and nonce; the state is compared here, before any code is redeemed.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import secrets
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from serving.db import AuditEntry, Review
from serving.keys import Role
from sponsorwatch.settings import Settings

log = logging.getLogger("serving.oidc")

TRANSACTION_COOKIE = "sponsorwatch_oidc"
TRANSACTION_PATH = "/auth/oidc"
TRANSACTION_SECONDS = 600
CALLBACK_PATH = "/auth/oidc/callback"
LOGIN_PATH = "/auth/oidc/login"
ACTOR_PREFIX = "oidc:"
_SALT = "sponsorwatch-oidc-transaction"


class OidcConfigError(ValueError):
    """The ``oidc_*`` settings cannot be used safely."""


class SignInRefused(Exception):
    """The provider's answer cannot sign anyone in; ``status`` and a message key (texts in
    the ``oidc`` table of the locales) say why."""

    def __init__(self, status: int, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.status = status
        self.reason = reason
        self.detail = detail


def oidc_enabled(settings: Settings) -> bool:
    return bool(getattr(settings, "oidc_issuer", None) and getattr(settings, "oidc_client_id",
                                                                   None))


def _loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def role_map(settings: Settings) -> dict[str, Role]:
    """The claim-value -> role mapping, every role checked against :class:`Role`."""
    mapped: dict[str, Role] = {}
    for value, role in settings.oidc_role_map.items():
        try:
            mapped[value] = Role(role)
        except ValueError as exc:
            known = ", ".join(r.value for r in Role)
            raise OidcConfigError(f"SPONSORWATCH_OIDC_ROLE_MAP maps {value!r} to {role!r}, "
                                  f"which is no role of this service ({known})") from exc
    return mapped


def check_config(settings: Settings) -> None:
    """Refuse settings that would sign people in unsafely: a plain-http issuer other than a
    loopback one, a missing client secret, a role map naming unknown roles."""
    issuer = urlsplit(settings.oidc_issuer or "")
    if issuer.scheme != "https" and not (issuer.scheme == "http" and _loopback(issuer.hostname)):
        raise OidcConfigError("SPONSORWATCH_OIDC_ISSUER must be an https URL (plain http only "
                              "for a provider on this machine)")
    secret = settings.oidc_client_secret
    if secret is None or not secret.get_secret_value():
        raise OidcConfigError("SPONSORWATCH_OIDC_CLIENT_SECRET is required with "
                              "SPONSORWATCH_OIDC_CLIENT_ID")
    if not settings.oidc_role_claim:
        raise OidcConfigError("SPONSORWATCH_OIDC_ROLE_CLAIM must name a claim")
    role_map(settings)


def oidc_client(app: FastAPI) -> Any:
    """The Authlib client of ``app`` (created, and its settings checked, on first use; the
    provider's metadata and keys are fetched on the first sign-in)."""
    client = getattr(app.state, "oidc_client", None)
    if client is None:
        from authlib.integrations.starlette_client import OAuth

        settings: Settings = app.state.settings
        check_config(settings)
        assert settings.oidc_client_secret is not None
        oauth = OAuth()
        oauth.register(
            "idp", client_id=settings.oidc_client_id,
            client_secret=settings.oidc_client_secret.get_secret_value(),
            server_metadata_url=settings.oidc_issuer.rstrip("/")
            + "/.well-known/openid-configuration",
            client_kwargs={"scope": settings.oidc_scope, "code_challenge_method": "S256",
                           "timeout": 10.0})
        client = oauth.create_client("idp")
        app.state.oidc_client = client
    return client


@dataclass(frozen=True)
class Transaction:
    """One sign-in in flight, from the redirect to the provider to the callback."""

    state: str
    nonce: str
    code_verifier: str
    next_url: str
    lang: str | None = None


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    secret = getattr(settings, "session_signing_secret", None)
    return URLSafeTimedSerializer(secret or settings.secret_key.get_secret_value(), salt=_SALT)


def dump_transaction(settings: Settings, transaction: Transaction) -> str:
    return _serializer(settings).dumps(asdict(transaction))


def load_transaction(settings: Settings, value: str | None) -> Transaction | None:
    """The transaction of a cookie value; None when absent, forged or expired."""
    if not value:
        return None
    try:
        data = _serializer(settings).loads(value, max_age=TRANSACTION_SECONDS)
        return Transaction(**data)
    except (BadSignature, TypeError, ValueError):
        return None


def set_transaction_cookie(response: Response, settings: Settings,
                           transaction: Transaction) -> None:
    response.set_cookie(TRANSACTION_COOKIE, dump_transaction(settings, transaction),
                        max_age=TRANSACTION_SECONDS, path=TRANSACTION_PATH, httponly=True,
                        samesite="lax", secure=bool(getattr(settings, "secure_cookies", False)))


def clear_transaction_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(TRANSACTION_COOKIE, path=TRANSACTION_PATH, httponly=True,
                           samesite="lax", secure=bool(getattr(settings, "secure_cookies", False)))


def redirect_uri(request: Request) -> str:
    return str(request.url_for("oidc_callback"))


async def begin(request: Request, next_url: str, lang: str | None) -> tuple[str, Transaction]:
    """The provider's authorization URL for a new sign-in, and its transaction."""
    client = oidc_client(request.app)
    nonce = secrets.token_urlsafe(24)
    found = await client.create_authorization_url(redirect_uri(request), nonce=nonce,
                                                  state=secrets.token_urlsafe(24))
    return found["url"], Transaction(found["state"], nonce, found["code_verifier"], next_url,
                                     lang)


async def finish(request: Request, transaction: Transaction | None) -> dict[str, Any]:
    """The signed-in user's claims (ID token, completed by the userinfo endpoint) for the
    provider's answer at the callback. Raises :class:`SignInRefused`."""
    params = request.query_params
    if transaction is None:
        raise SignInRefused(400, "oidc.expired")
    if not secrets.compare_digest(params.get("state", ""), transaction.state):
        raise SignInRefused(400, "oidc.state")
    if "error" in params:
        raise SignInRefused(401, "oidc.provider_error", params.get("error", "")[:100])
    code = params.get("code")
    if not code:
        raise SignInRefused(400, "oidc.no_code")
    client = oidc_client(request.app)
    metadata = await client.load_server_metadata()
    if "iss" in params and params["iss"] != metadata.get("issuer"):
        raise SignInRefused(400, "oidc.issuer")  # a mix-up: another provider's answer
    try:
        token = await client.fetch_access_token(redirect_uri=redirect_uri(request), code=code,
                                                code_verifier=transaction.code_verifier)
    except Exception as exc:  # OAuthError, HTTP errors: the provider refused the code
        log.warning("oidc: token request refused: %s", type(exc).__name__)
        raise SignInRefused(400, "oidc.token", type(exc).__name__) from exc
    try:
        claims = dict(await client.parse_id_token(token, nonce=transaction.nonce) or {})
    except Exception as exc:  # a bad signature, issuer, audience, expiry or nonce
        log.warning("oidc: ID token refused: %s", exc)
        raise SignInRefused(400, "oidc.id_token", type(exc).__name__) from exc
    if not claims.get("sub"):
        raise SignInRefused(400, "oidc.id_token", "no ID token")
    if metadata.get("userinfo_endpoint"):
        try:
            info = dict(await client.userinfo(token=token))
        except Exception as exc:
            raise SignInRefused(502, "oidc.userinfo", type(exc).__name__) from exc
        if info.get("sub") != claims["sub"]:
            raise SignInRefused(400, "oidc.userinfo", "subject differs from the ID token")
        claims = {**info, **claims}
    return claims


def role_from_claims(claims: dict[str, Any], claim: str, mapping: dict[str, Role],
                     allowed: tuple[Role, ...]) -> Role | None:
    """The most privileged of ``allowed`` that the claim's values map to, else None."""
    values = claims.get(claim)
    if isinstance(values, str):
        values = values.split() if " " in values else [values]
    if not isinstance(values, list):
        return None
    roles = {mapping[v] for v in values if isinstance(v, str) and v in mapping}
    order = list(Role)
    granted = [role for role in roles if role in allowed]
    return max(granted, key=order.index) if granted else None


def _actor_length() -> int:
    """The longest actor every column that stores a page user's key id can hold (the audit
    trail's, and the reviews' until they are widened too)."""
    columns = (AuditEntry.__table__.c.key_id, Review.__table__.c.key_id,
               Review.__table__.c.outcome_key_id)
    return min(getattr(column.type, "length", None) or 255 for column in columns)


def actor_id(claims: dict[str, Any], issuer: str) -> str:
    """Who the audit trail names for this user: ``oidc:<email>`` (a verified email), else
    ``oidc:<subject>``; where neither fits the trail's actor column, ``oidc:`` and a hash of
    issuer and subject (logged once per sign-in with the subject, so it can be traced)."""
    limit = _actor_length()
    email = claims.get("email")
    if (isinstance(email, str) and email and claims.get("email_verified") is not False
            and len(ACTOR_PREFIX + email) <= limit):
        return ACTOR_PREFIX + email
    subject = str(claims["sub"])
    if len(ACTOR_PREFIX + subject) <= limit:
        return ACTOR_PREFIX + subject
    digest = hashlib.sha256(f"{issuer}|{subject}".encode()).hexdigest()
    actor = ACTOR_PREFIX + digest[: max(limit - len(ACTOR_PREFIX), 8)]
    log.info("oidc: actor %s is subject %r (email %r) of %s", actor, subject, email, issuer)
    return actor
