"""Request and response models of the scoring service (the OpenAPI document comes from here)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal, NotRequired

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    create_model,
    model_validator,
)

# pydantic needs typing_extensions' TypedDict before Python 3.12.
from typing_extensions import TypedDict

from sponsorwatch.contract import FINDINGS, OUTCOMES, TABLES, Column

SponsorId = Annotated[str, StringConstraints(pattern=r"^[0-9]{8}$"),
                      Field(description="KvK number, 8 digits", examples=["12345678"])]
#: Timestamps are stored as naive UTC; they leave the service marked as UTC (RFC 3339).
UtcDateTime = Annotated[datetime, AfterValidator(
    lambda moment: moment if moment.tzinfo else moment.replace(tzinfo=UTC))]
Band = Annotated[str, Field(description="Risk band of the score (see GET /v1/model)")]


def _on_or_before_today(day: date) -> date:
    """A day something already happened: from 2000 (the scheme's records) to today (UTC);
    year 1, 9999 or next week is a typo or a probe, answered 422."""
    today = datetime.now(UTC).date()
    if not EARLIEST_AS_OF <= day <= today:
        raise ValueError(f"must lie between {EARLIEST_AS_OF} and today ({today})")
    return day


PastDay = Annotated[date, AfterValidator(_on_or_before_today)]


class Reason(BaseModel):
    """One feature's contribution to a score."""

    feature: str
    value: float | None = Field(description="The feature's value for this sponsor")
    contribution: float = Field(description="Contribution to the log-odds of the score")
    description: str


class SponsorRisk(BaseModel):
    """A sponsor's place in the ranking, with its top reasons."""

    sponsor_id: str
    name: str
    sbi_code: str | None
    sector: str | None
    postcode4: str | None
    score: float = Field(ge=0, le=1, description="Calibrated probability of a violation")
    rank: int = Field(ge=1, description="1 = highest risk in the snapshot")
    band: Band
    reasons: list[Reason]
    model_version: str
    as_of: date


class ScoreRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sponsor_ids: list[SponsorId] = Field(min_length=1, max_length=1000)


class UnknownSponsor(BaseModel):
    sponsor_id: str
    reason: str


class ScoreResponse(BaseModel):
    """Scores of the requested sponsors that are in the ranking; the others under
    ``not_found`` with the reason."""

    model_version: str
    as_of: date
    results: list[SponsorRisk]
    not_found: list[UnknownSponsor]


class RankedPage(BaseModel):
    as_of: date
    model_version: str
    total: int = Field(ge=0, description="Sponsors matching the filters")
    page: int
    page_size: int
    items: list[SponsorRisk]


class FeatureValue(BaseModel):
    name: str
    value: float | None
    description: str
    family: str
    unit: str | None = None


class ScorePoint(BaseModel):
    as_of: date
    score: float
    rank: int
    band: str
    model_version: str


class InspectionOut(BaseModel):
    inspection_id: str
    opened_on: date
    closed_on: date | None
    selection: str
    outcome: str
    findings: list[str] | None
    fine_eur: float | None


Decision = Literal["inspect", "dismiss"]
Outcome = Literal[OUTCOMES]  # type: ignore[valid-type]
Finding = Literal[FINDINGS]  # type: ignore[valid-type]


class ReviewIn(BaseModel):
    """An analyst's decision on a sponsor."""

    model_config = ConfigDict(extra="forbid")

    decision: Decision
    note: str = Field("", max_length=5000)
    decided_on: PastDay | None = Field(None, description="Defaults to today (UTC); "
                                                         "2000-01-01 to today")


class OutcomeIn(BaseModel):
    """The outcome of an inspection opened by a review."""

    model_config = ConfigDict(extra="forbid")

    outcome: Outcome
    closed_on: PastDay | None = Field(None, description="Required unless the outcome is "
                                                        "OPEN; 2000-01-01 to today")
    findings: list[Finding] = Field(default_factory=list, max_length=len(FINDINGS))
    fine_eur: float | None = Field(None, ge=0, le=1e9)
    note: str = Field("", max_length=5000)

    @model_validator(mode="after")
    def _closed_exactly_when_not_open(self) -> OutcomeIn:
        if (self.outcome == "OPEN") != (self.closed_on is None):
            raise ValueError("closed_on must be given exactly when the outcome is not OPEN")
        if self.outcome == "OPEN" and (self.findings or self.fine_eur is not None):
            raise ValueError("an OPEN inspection has no findings or fine yet")
        return self


class ReviewOut(BaseModel):
    review_id: str
    sponsor_id: str
    decision: Decision
    note: str
    decided_on: date
    created_at: UtcDateTime
    key_id: str
    model_version: str | None
    score: float | None
    score_as_of: date | None
    outcome: str | None
    closed_on: date | None
    findings: list[str]
    fine_eur: float | None
    outcome_note: str


class SponsorDetail(SponsorRisk):
    """Everything the service knows about one sponsor's risk."""

    features: list[FeatureValue]
    history: list[ScorePoint] = Field(description="Score in every snapshot, oldest first")
    inspections: list[InspectionOut] = Field(description="Past inspections in the warehouse")
    reviews: list[ReviewOut]


class FeatureInfo(BaseModel):
    name: str
    family: str
    description: str
    unit: str | None = None
    direction: int


class ModelInfo(BaseModel):
    name: str
    version: str
    alias: str
    source: Literal["registry", "cache"] = Field(
        description="registry, or the local copy when the registry was unreachable")
    loaded_at: UtcDateTime
    run_id: str | None
    training_window: dict[str, Any] = Field(description="Dates the model was trained on")
    metrics: dict[str, float]
    features: list[FeatureInfo]
    bands: dict[str, Any] = Field(description="How scores map to bands")
    snapshot_as_of: date | None
    snapshot_model_version: str | None
    snapshot_sponsors: int


class ReloadResult(BaseModel):
    reloaded: bool
    model_version: str
    snapshot_as_of: date | None
    message: str


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["case-system", "analyst", "lead", "admin"]
    label: str = Field("", max_length=200)


class KeyOut(BaseModel):
    key_id: str
    role: str
    label: str
    created_at: UtcDateTime
    revoked_at: UtcDateTime | None


class KeyCreated(KeyOut):
    api_key: str = Field(description="Shown once; store it now")


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    ready: bool
    model_version: str | None
    snapshot_as_of: date | None
    checks: dict[str, str]


# --- raw records (POST /v1/scores/records), generated from the contract ---------------------

def _python_type(column: Column) -> Any:
    import polars as pl

    base: Any
    if isinstance(column.dtype, pl.List):
        base = list[str]
    elif column.dtype == pl.Date:
        base = date
    elif column.dtype == pl.Boolean:
        base = bool
    elif column.dtype == pl.Int64:
        base = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]
    elif column.dtype == pl.Float64:
        base = float
    else:
        base = str
    # Nulls in required columns are reported by the contract's not_null rule, by name.
    return Annotated[base | None, Field(description=column.description)]


def _row_type(table_name: str) -> type:
    """A row of a contract table as a TypedDict: pydantic checks the types and hands the
    route plain dicts, ready for polars, without building (and then dumping) a model
    object per row, which took over half of the event loop's time per records request."""
    table = TABLES[table_name]
    fields = {c.name: NotRequired[_python_type(c)] for c in table.columns}
    row_name = "".join(part.title() for part in table_name.split("_")) + "Row"
    row = TypedDict(row_name, fields)  # type: ignore[misc]
    row.__doc__ = table.description
    row.__pydantic_config__ = ConfigDict(extra="ignore")  # type: ignore[attr-defined]
    return row


ROW_TYPES: dict[str, type] = {name: _row_type(name) for name in TABLES}

_MAX_ROWS = 20_000
#: Days a score may be asked for: the scheme's records begin in the 2000s; beyond these
#: bounds a date is a typo or a probe, answered 422 rather than computed.
EARLIEST_AS_OF, LATEST_AS_OF = date(2000, 1, 1), date(2099, 12, 31)
RecordTables = create_model(  # type: ignore[call-overload]
    "RecordTables", __config__=ConfigDict(extra="forbid"),
    __doc__="A sponsor's raw records, one list of rows per contract table.",
    **{name: (list[row] | None,  # type: ignore[valid-type]
              Field(None, max_length=_MAX_ROWS, description=TABLES[name].description))
       for name, row in ROW_TYPES.items()})


class RecordsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    as_of: date | None = Field(None, ge=EARLIEST_AS_OF, le=LATEST_AS_OF,
                               description="Day to score as of; defaults to the day of the "
                                           "served ranking snapshot")
    tables: RecordTables  # type: ignore[valid-type]

    def table_rows(self) -> dict[str, list[dict[str, Any]]]:
        """The rows sent, per table sent (rows are plain dicts already)."""
        return {name: rows for name in TABLES
                if (rows := getattr(self.tables, name)) is not None}


class RecordScore(BaseModel):
    sponsor_id: str
    score: float = Field(ge=0, le=1)
    band: Band
    rank_in_snapshot: int = Field(ge=1, description="Where this score would rank in the "
                                                   "served snapshot")
    reasons: list[Reason]
    features: dict[str, float | None]


class RecordsResponse(BaseModel):
    as_of: date
    model_version: str
    results: list[RecordScore]
    not_scored: list[UnknownSponsor] = Field(
        description="Sponsors sent that were not recognised on as_of")


class ErrorOut(BaseModel):
    detail: str
