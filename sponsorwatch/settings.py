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
