"""The OpenID Connect sign-in's own rules, without a browser: settings refused when unsafe,
the role a claim gives, the actor the audit trail names, the transaction cookie."""

from __future__ import annotations

import time

import pytest
from pydantic import SecretStr

import serving.web.oidc as oidc
from serving.keys import Role
from sponsorwatch.settings import Settings

PAGE = (Role.ANALYST, Role.ADMIN)


def _settings(**changes: object) -> Settings:
    values: dict[str, object] = {"oidc_issuer": "https://login.example.org",
                                 "oidc_client_id": "sponsorwatch",
                                 "oidc_client_secret": SecretStr("s3cret")}
    values.update(changes)
    return Settings(**values)


@pytest.mark.parametrize("issuer", ["http://login.example.org", "ftp://x", "login.example.org",
                                    "http://10.0.0.5:8080"])
def test_an_issuer_without_https_is_refused_unless_on_this_machine(issuer: str) -> None:
    with pytest.raises(oidc.OidcConfigError, match="https"):
        oidc.check_config(_settings(oidc_issuer=issuer))
    for local in ("http://localhost:9000", "http://127.0.0.1:9000", "https://x.example"):
        oidc.check_config(_settings(oidc_issuer=local))


def test_unknown_roles_and_a_missing_secret_are_refused() -> None:
    with pytest.raises(oidc.OidcConfigError, match="no role of this service"):
        oidc.check_config(_settings(oidc_role_map={"boss": "superuser"}))
    with pytest.raises(oidc.OidcConfigError, match="CLIENT_SECRET"):
        oidc.check_config(_settings(oidc_client_secret=None))
    assert not oidc.oidc_enabled(Settings())
    assert oidc.oidc_enabled(_settings())


def test_the_role_is_the_most_privileged_mapped_page_role() -> None:
    mapping = {"a": Role.ANALYST, "z": Role.ADMIN, "c": Role.CASE_SYSTEM}
    assert oidc.role_from_claims({"roles": ["x", "a"]}, "roles", mapping, PAGE) is Role.ANALYST
    assert oidc.role_from_claims({"roles": ["a", "z"]}, "roles", mapping, PAGE) is Role.ADMIN
    assert oidc.role_from_claims({"roles": "a z"}, "roles", mapping, PAGE) is Role.ADMIN
    assert oidc.role_from_claims({"roles": "a"}, "roles", mapping, PAGE) is Role.ANALYST
    # A case system never gets a page session; unmapped or missing claims give nothing.
    assert oidc.role_from_claims({"roles": ["c"]}, "roles", mapping, PAGE) is None
    assert oidc.role_from_claims({"roles": ["analyst"]}, "roles", mapping, PAGE) is None
    assert oidc.role_from_claims({"groups": ["a"]}, "roles", mapping, PAGE) is None
    assert oidc.role_from_claims({"roles": {"a": 1}}, "roles", mapping, PAGE) is None


def test_the_actor_fits_the_trail() -> None:
    limit = oidc._actor_length()
    short = oidc.actor_id({"sub": "u1", "email": "a@b.nl"}, "https://idp")
    assert short == "oidc:a@b.nl" if len("oidc:a@b.nl") <= limit else short == "oidc:u1"
    unverified = oidc.actor_id({"sub": "u1", "email": "a@b.nl", "email_verified": False},
                               "https://idp")
    assert unverified == "oidc:u1"
    long_sub = "x" * 300
    hashed = oidc.actor_id({"sub": long_sub}, "https://idp")
    assert hashed.startswith("oidc:") and len(hashed) <= limit
    assert hashed != oidc.actor_id({"sub": long_sub}, "https://other-idp")


def test_a_forged_or_stale_transaction_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings()
    transaction = oidc.Transaction("st", "no", "ver", "/sponsors", "nl")
    value = oidc.dump_transaction(settings, transaction)
    assert oidc.load_transaction(settings, value) == transaction
    assert oidc.load_transaction(settings, value[:-2] + "xx") is None
    assert oidc.load_transaction(_settings(secret_key=SecretStr("other")), value) is None
    assert oidc.load_transaction(settings, None) is None
    later = time.time() + oidc.TRANSACTION_SECONDS + 5
    monkeypatch.setattr(time, "time", lambda: later)
    assert oidc.load_transaction(settings, value) is None
