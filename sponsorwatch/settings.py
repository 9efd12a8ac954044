"""One typed settings object for every stage (env prefix ``SPONSORWATCH_``)."""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_SECRET = "development-only-secret-change-me"


class Settings(BaseSettings):
    """Where state lives and how each stage behaves. Nothing is created on construction."""

    model_config = SettingsConfigDict(env_prefix="SPONSORWATCH_", extra="ignore")

    home: Path = Field(Path(".sponsorwatch"), description="Folder holding every stage's state")
    environment: Literal["development", "production"] = "development"
    secret_key: SecretStr = SecretStr(DEVELOPMENT_SECRET)
    database_url: str | None = Field(
        None, description="SQLAlchemy URL of the service database; SQLite under home if unset")
    mlflow_tracking_uri: str | None = Field(
        None, description="MLflow tracking store; SQLite under home if unset "
                          "(MLFLOW_TRACKING_URI also works)")
    thresholds_file: Path | None = Field(
        None, description="Salary threshold CSV overriding the shipped copy")
    model_name: str = "sponsor-risk"
    inspection_capacity: int = Field(100, ge=1, description="Inspections per period (k)")
    horizon_months: int = Field(12, ge=1, le=60)
    # Off: the sector is the strongest proxy of the migrants' nationality mix and showed no
    # gain in precision when measured (benchmarks/evaluate.py, "sector_ablation").
    use_sector: bool = Field(False, description="Whether the model may use the sector features "
                                                "(a proxy of nationality mix; off by default)")
    audit_retention_days: int = Field(183, ge=183, description="At least 6 months")
    fairness_min_ratio: float = Field(0.8, gt=0, le=1, description="Four-fifths rule bound")
    fairness_min_support: int = Field(
        20, ge=1, description="Labelled negatives a nationality-mix group needs for its "
                              "false-positive rate to be measured (and compared)")
    fairness_min_group_share: float = Field(
        0.02, ge=0, le=1, description="Share of the audited sponsors from which a "
                                      "nationality-mix group must be measured for the "
                                      "fairness gate to pass (smaller groups are reported "
                                      "as unmeasured but do not block)")
    fairness_min_random: int = Field(
        200, ge=0, description="RANDOM-inspection labels (pooled over the holdout window) "
                               "needed to audit fairness on them alone; with fewer, or where "
                               "a group cannot be measured on them, every labelled "
                               "inspection is used and the audit says so")
    proxy_max_auc: float = Field(
        0.8, gt=0.5, le=1, description="Promotion gate: highest macro AUC with which the "
                                       "model's features may predict the nationality mix "
                                       "(proxy check)")
    promoted_by: str | None = Field(
        None, description="Who promotes, when `sponsorwatch promote --by` is not given "
                          "(recorded on the version and in the audit trail; required "
                          "with --force)")
    max_request_bytes: int = Field(
        8 * 1024 * 1024, ge=1024, description="Largest request body the service reads; "
                                              "a larger one is answered 413 unread")
    case_review_days: int = Field(
        10, ge=1, description="Cases: days from opening (or release) to decide on a new case "
                              "or one in review (its due date)")
    case_inspection_days: int = Field(
        90, ge=1, description="Cases: days from requesting an inspection to closing it")
    case_approval_days: int = Field(
        5, ge=1, description="Cases: days a lead has to approve or reject (four-eyes)")
    case_analyst_cap: int = Field(
        25, ge=1, description="Cases: open cases one analyst may hold (claim and assignment "
                              "stop there)")
    oidc_issuer: str | None = Field(
        None, description="OpenID Connect: the identity provider's issuer URL (analysts sign "
                          "in through it when set with a client id; https outside loopback)")
    oidc_client_id: str | None = Field(None, description="OpenID Connect: this service's "
                                                         "client id at the provider")
    oidc_client_secret: SecretStr | None = Field(
        None, description="OpenID Connect: the client secret (authorization code with PKCE)")
    oidc_scope: str = Field("openid email profile", description="OpenID Connect: scopes asked "
                                                                "for; add the role claim's scope")
    oidc_role_claim: str = Field("roles", description="OpenID Connect: the claim (a string or "
                                                      "a list of strings) naming the roles")
    oidc_role_map: dict[str, str] = Field(
        default_factory=lambda: {"sponsorwatch-analyst": "analyst",
                                 "sponsorwatch-admin": "admin"},
        description="OpenID Connect: role-claim value -> the service's role (JSON in the "
                    "environment); a user with no mapped page role is refused")
    # Model health (`sponsorwatch monitor`, training.monitoring.report): an alert needs a
    # size and a Holm-corrected significance; see that module for each check.
    monitor_alpha: float = Field(
        0.01, gt=0, lt=1, description="Monitor: family-wise level of each family of tests "
                                      "(Holm-corrected over features, columns, sectors)")
    monitor_step_psi: float = Field(
        0.25, gt=0, description="Monitor: alert when a feature's PSI against the previous "
                                "snapshot exceeds this (and its KS test is significant)")
    monitor_reference_psi: float = Field(
        1.0, gt=0, description="Monitor: alert when a feature's PSI against the champion's "
                               "training window exceeds this (above "
                               "monitor_drift_warning_psi it is a warning only)")
    monitor_drift_warning_psi: float = Field(
        0.25, gt=0, description="Monitor: warn (retraining advised, the run does not fail) "
                                "when a feature's PSI against the training window exceeds this")
    monitor_null_jump: float = Field(
        0.2, gt=0, le=1, description="Monitor: alert when a feature's missing share moves by "
                                     "this much from the training window's")
    monitor_empty_jump: float = Field(
        0.5, gt=0, le=1, description="Monitor: alert when a delivered column is empty in this "
                                     "much more of the rows received since the previous "
                                     "snapshot than in the training window")
    monitor_sector_ratio: float = Field(
        2.0, gt=1, description="Monitor: alert when a sector's share of new permit "
                               "applications is this many times (or 1/this) its share in the "
                               "training window")
    monitor_score_step_psi: float = Field(
        0.25, gt=0, description="Monitor: alert when the scores' PSI against the previous "
                                "snapshot exceeds this")
    monitor_min_top_overlap: float = Field(
        0.3, ge=0, le=1, description="Monitor: alert when less than this share of the "
                                     "previous top k is still in the top k")
    monitor_calibration_gap: float = Field(
        0.1, gt=0, le=1, description="Monitor: alert when the mean score on RANDOM outcomes "
                                     "is off the observed violation rate by more than this "
                                     "and outside the rate's exact interval")
    monitor_calibration_min_sponsors: int = Field(
        30, ge=1, description="Monitor: RANDOM-inspected sponsors with a known outcome needed "
                              "before calibration can alert")
    seed: int = 42
    session_secret: SecretStr | None = Field(
        None, description="Signs the pages' session cookie; separate from SECRET_KEY (which "
                          "hashes API keys). Required outside development; in development "
                          "derived from SECRET_KEY when unset")
    cookie_secure: bool | None = Field(
        None, description="Mark the session cookie Secure (HTTPS only) [default: outside "
                          "development]")
    trusted_proxies: str = Field(
        "", description="Comma-separated addresses of reverse proxies whose X-Forwarded-For "
                        "is believed (client address of the sign-in throttle); none by default")

    @model_validator(mode="after")
    def _refuse_unsafe_secret(self) -> Settings:
        secret = self.secret_key.get_secret_value()
        if self.environment != "development" and (not secret or secret == DEVELOPMENT_SECRET):
            raise ValueError(
                "SPONSORWATCH_SECRET_KEY must be set to a non-default value outside development")
        session = self.session_secret.get_secret_value() if self.session_secret else ""
        if self.environment != "development" and (
                not session or session in (DEVELOPMENT_SECRET, secret)):
            raise ValueError("SPONSORWATCH_SESSION_SECRET must be set outside development, "
                             "to a value other than SPONSORWATCH_SECRET_KEY")
        return self

    @property
    def session_signing_secret(self) -> str:
        """The session cookie's secret: ``session_secret``, else (development) one derived
        from ``secret_key``, so that it never equals the key-hashing secret."""
        if self.session_secret is not None and self.session_secret.get_secret_value():
            return self.session_secret.get_secret_value()
        import hashlib
        import hmac

        return hmac.new(self.secret_key.get_secret_value().encode(), b"sponsorwatch-session",
                        hashlib.sha256).hexdigest()

    @property
    def secure_cookies(self) -> bool:
        return self.cookie_secure if self.cookie_secure is not None else (
            self.environment != "development")

    @cached_property
    def warehouse_dir(self) -> Path:
        return self.home / "warehouse"

    @cached_property
    def features_dir(self) -> Path:
        return self.home / "features"

    @cached_property
    def scores_dir(self) -> Path:
        return self.home / "scores"

    @cached_property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    @property
    def service_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.home / 'service.db').resolve()}"

    @property
    def tracking_uri(self) -> str:
        import os

        return (self.mlflow_tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
                or f"sqlite:///{(self.home / 'mlflow.db').resolve()}")


_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)[^/\s]*@")


def redact_credentials(text: str) -> str:
    """``text`` with the ``user:password@`` of every URL in it replaced by ``***@`` (for
    messages and logs that name a database or tracking URI)."""
    return _CREDENTIALS.sub(r"\g<scheme>***@", text)
