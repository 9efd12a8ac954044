"""One typed settings object for every stage (env prefix ``SPONSORWATCH_``)."""

from __future__ import annotations

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
    seed: int = 42

    @model_validator(mode="after")
    def _refuse_unsafe_secret(self) -> Settings:
        secret = self.secret_key.get_secret_value()
        if self.environment != "development" and (not secret or secret == DEVELOPMENT_SECRET):
            raise ValueError(
                "SPONSORWATCH_SECRET_KEY must be set to a non-default value outside development")
        return self

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
