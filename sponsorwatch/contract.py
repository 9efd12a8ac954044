"""The raw record contract, version 2, declared once.

Source of truth: ``shared/contract/raw-records.md``. Ingest turns these declarations
into great-expectations suites and polars quarantine checks, the simulator writes
exactly these columns, the online scoring path validates a request with the same
rules (without great-expectations), and the docs are generated from here.

Every row-level rule is a :class:`Rule` with a polars expression that is true where a
row *breaks* the rule, so a whole table is checked in one vectorised pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import polars as pl

CONTRACT_VERSION = 2

LEGAL_FORMS = (
    "BV", "NV", "VOF", "CV", "EENMANSZAAK", "STICHTING", "VERENIGING", "COOPERATIE",
    "FOREIGN_ENTITY", "OTHER",
)
END_REASONS = ("REVOKED", "SUSPENDED", "WITHDRAWN_BY_SPONSOR", "BANKRUPT", "OTHER")
ROLES = ("DIRECTOR", "OWNER", "SIGNATORY")
SCHEMES = ("KM_REGULAR", "KM_UNDER_30", "KM_REDUCED", "EU_BLUE_CARD")
DECISIONS = ("GRANTED", "REFUSED", "WITHDRAWN", "PENDING")
NOTIFICATION_KINDS = (
    "EMPLOYMENT_ENDED", "SALARY_BELOW_CRITERION", "HOURS_CHANGED", "JOB_CHANGED",
    "SPONSOR_CHANGED",
)
SELECTIONS = ("RANDOM", "RISK_BASED", "TIP", "OTHER")
OUTCOMES = ("VIOLATION", "NO_VIOLATION", "INCONCLUSIVE", "OPEN")
FINDINGS = (
    "UNDERPAYMENT", "SALARY_REPAYMENT", "NO_GENUINE_JOB", "NOTIFICATION_FAILURE",
    "ADMINISTRATION_FAILURE", "OTHER",
)

#: Columns that no feature, model or score may read. Only the fairness audit does.
RESTRICTED_COLUMNS = frozenset({("permits", "nationality")})

#: Legal duty to notify a change to the IND, in days after the event.
NOTIFICATION_DEADLINE_DAYS = 28

RuleKind = Literal["not_null", "in_set", "between", "regex", "unique_key", "cross_field",
                   "reference"]


@dataclass(frozen=True)
class Column:
    """One column of a contract table."""

    name: str
    dtype: pl.DataType
    nullable: bool
    description: str
    enum: tuple[str, ...] | None = None
    min_value: float | None = None
    max_value: float | None = None
    #: True where ``min_value`` itself is not allowed (``decimal > 0``).
    strict_min: bool = False
    pattern: str | None = None
    restricted: bool = False


@dataclass(frozen=True)
class Rule:
    """A row-level rule. ``violation`` is true where a row breaks it (nulls never break
    a rule other than ``not_null``: a missing optional value is not a wrong value)."""

    name: str
    table: str
    kind: RuleKind
    description: str
    violation: Callable[[], pl.Expr]
    columns: tuple[str, ...] = ()
    #: Parameters for the great-expectations translation (value set, bounds, regex).
    params: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Reference:
    """``column`` of this table must exist in ``to_table.to_column``."""

    column: str
    to_table: str
    to_column: str


@dataclass(frozen=True)
class Table:
    """A contract table with its key, cross-field rules and references."""

    name: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    optional: bool = False
    cross_rules: tuple[Rule, ...] = ()
    references: tuple[Reference, ...] = ()
    #: Checks of what is unusual but lawful: counted in the ingest report, never grounds
    #: for quarantine (the contract's "Grounds for quarantine").
    warnings: tuple[Rule, ...] = ()

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def schema(self) -> pl.Schema:
        return pl.Schema({c.name: c.dtype for c in self.columns})

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"{self.name} has no column {name!r}")

    def unrestricted_columns(self) -> list[str]:
        """Columns that features may read."""
        return [c.name for c in self.columns if not c.restricted]


def _c(name: str, dtype: pl.DataType, nullable: bool, description: str, **kw: object) -> Column:
    return Column(name, dtype, nullable, description, **kw)  # type: ignore[arg-type]


def _cross(table: str, name: str, description: str, columns: tuple[str, ...],
           violation: Callable[[], pl.Expr]) -> Rule:
    return Rule(name=name, table=table, kind="cross_field", description=description,
                violation=violation, columns=columns)


def _not_before(table: str, later: str, earlier: str) -> Rule:
    return _cross(table, f"{later}_not_before_{earlier}", f"{later} is not before {earlier}",
                  (later, earlier), lambda: pl.col(later) < pl.col(earlier))


def _present_exactly_when(table: str, a: str, b: str) -> Rule:
    return _cross(table, f"{a}_present_exactly_when_{b}",
                  f"{a} is present exactly when {b} is", (a, b),
                  lambda: pl.col(a).is_null() != pl.col(b).is_null())


def _value_exactly_when_null(table: str, col: str, value: str, null_col: str) -> Rule:
    return _cross(table, f"{col}_{value.lower()}_exactly_when_{null_col}_null",
                  f"{col} is {value} exactly when {null_col} is null", (col, null_col),
                  lambda: (pl.col(col) == value) != pl.col(null_col).is_null())


def _first_of_month(table: str, col: str) -> Rule:
    return _cross(table, f"{col}_first_of_month", f"{col} is the first day of a month", (col,),
                  lambda: pl.col(col).dt.day() != 1)


_MONEY = "euro, gross, at most 2 decimals"
#: Knowledge time (version 2, an optional column): where a delivery lacks it, ingest
#: derives it from the row's effective dates (see ``sponsorwatch.history``).
_RECORDED_ON = "knowledge time: the day this version was "
_PERIOD = "the month the figure is for (first day of the month)"

SPONSORS = Table(
    name="sponsors",
    description="Recognised sponsors, one row per version of a sponsor's record.",
    key=("sponsor_id", "recorded_on"),
    columns=(
        _c("sponsor_id", pl.String(), False, "Chamber of Commerce (KvK) number, 8 digits",
           pattern=r"^[0-9]{8}$"),
        _c("name", pl.String(), False, "trade name"),
        _c("legal_form", pl.String(), False, "legal form", enum=LEGAL_FORMS),
        _c("sbi_code", pl.String(), False, "SBI 2008 main activity code",
           pattern=r"^[0-9]{2,5}$"),
        _c("postcode4", pl.String(), True, "area of the registered address",
           pattern=r"^[1-9][0-9]{3}$"),
        _c("address_key", pl.String(), True, "pseudonym of the registered address"),
        _c("founded_on", pl.Date(), False, "registration in the trade register"),
        _c("recognised_on", pl.Date(), False, "start of recognition as sponsor"),
        _c("recognition_ended_on", pl.Date(), True, "end of recognition"),
        _c("recognition_end_reason", pl.String(), True, "why recognition ended",
           enum=END_REASONS),
        _c("recorded_on", pl.Date(), True, _RECORDED_ON + "entered at the IND"),
    ),
    cross_rules=(
        _not_before("sponsors", "recorded_on", "founded_on"),
        _not_before("sponsors", "recognised_on", "founded_on"),
        _not_before("sponsors", "recognition_ended_on", "recognised_on"),
        _present_exactly_when("sponsors", "recognition_end_reason", "recognition_ended_on"),
    ),
)

SPONSOR_OFFICERS = Table(
    name="sponsor_officers",
    description="Directors and owners of sponsors.",
    key=("sponsor_id", "officer_key", "role", "from_date", "recorded_on"),
    columns=(
        _c("sponsor_id", pl.String(), False, "the sponsor"),
        _c("officer_key", pl.String(), False, "pseudonym of the person"),
        _c("role", pl.String(), False, "role", enum=ROLES),
        _c("from_date", pl.Date(), False, "in office from"),
        _c("to_date", pl.Date(), True, "in office until; null while in office"),
        _c("recorded_on", pl.Date(), True,
           _RECORDED_ON + "registered in the trade register"),
    ),
    cross_rules=(_not_before("sponsor_officers", "to_date", "from_date"),),
    references=(Reference("sponsor_id", "sponsors", "sponsor_id"),),
)

PERMITS = Table(
    name="permits",
    description="Residence permit applications under the scheme.",
    key=("application_id",),
    columns=(
        _c("application_id", pl.String(), False, "unique application id"),
        _c("sponsor_id", pl.String(), False, "the sponsor"),
        _c("person_key", pl.String(), False, "pseudonym of the migrant"),
        _c("scheme", pl.String(), False, "which salary criterion applies", enum=SCHEMES),
        _c("submitted_on", pl.Date(), False, "day the application was submitted"),
        _c("decided_on", pl.Date(), True, "day of the decision; null while pending"),
        _c("decision", pl.String(), False, "decision", enum=DECISIONS),
        _c("age_at_submission", pl.Int64(), False, "age of the migrant at submission",
           min_value=16, max_value=80),
        _c("declared_monthly_salary", pl.Float64(), False,
           "gross monthly salary declared by the sponsor, excluding holiday allowance",
           min_value=0, strict_min=True),
        _c("declared_weekly_hours", pl.Float64(), False, "contract hours per week",
           min_value=1, max_value=60),
        _c("isco_code", pl.String(), False, "ISCO-08 occupation", pattern=r"^[0-9]{4}$"),
        _c("valid_from", pl.Date(), True, "permit valid from (when granted)"),
        _c("valid_until", pl.Date(), True, "permit valid until (when granted)"),
        _c("nationality", pl.String(), True,
           "ISO 3166-1 alpha-3; RESTRICTED: read only by the fairness audit",
           pattern=r"^[A-Z]{3}$", restricted=True),
    ),
    cross_rules=(
        _value_exactly_when_null("permits", "decision", "PENDING", "decided_on"),
        _cross("permits", "validity_present_when_granted",
               "valid_from and valid_until are present when GRANTED",
               ("decision", "valid_from", "valid_until"),
               lambda: (pl.col("decision") == "GRANTED")
               & (pl.col("valid_from").is_null() | pl.col("valid_until").is_null())),
        _cross("permits", "valid_until_after_valid_from", "valid_until is after valid_from",
               ("valid_until", "valid_from"),
               lambda: pl.col("valid_until") <= pl.col("valid_from")),
    ),
    warnings=(_cross("permits", "decided_before_submitted", "decided_on is before submitted_on "
                     "(no order is stated)", ("decided_on", "submitted_on"),
                     lambda: pl.col("decided_on") < pl.col("submitted_on")),),
    references=(Reference("sponsor_id", "sponsors", "sponsor_id"),),
)

PAYROLL = Table(
    name="payroll",
    description="Monthly wage filings for each migrant.",
    key=("sponsor_id", "person_key", "period", "filed_on"),
    columns=(
        _c("sponsor_id", pl.String(), False, "the employer filing"),
        _c("person_key", pl.String(), False, "the employee"),
        _c("period", pl.Date(), False, _PERIOD),
        _c("gross_wage", pl.Float64(), False, f"wage for the month, {_MONEY}", min_value=0),
        _c("hours_paid", pl.Float64(), False, "hours paid in the month", min_value=0),
        _c("filed_on", pl.Date(), False, "day the filing reached the tax administration"),
        _c("is_correction", pl.Boolean(), False, "replaces an earlier filing"),
    ),
    cross_rules=(
        _first_of_month("payroll", "period"),
        _not_before("payroll", "filed_on", "period"),
    ),
    references=(Reference("sponsor_id", "sponsors", "sponsor_id"),),
)

WORKFORCE = Table(
    name="workforce",
    description="Monthly employer totals from the same filings.",
    key=("sponsor_id", "period", "filed_on"),
    columns=(
        _c("sponsor_id", pl.String(), False, "the employer"),
        _c("period", pl.Date(), False, _PERIOD),
        _c("headcount", pl.Int64(), False, "all employees on the payroll that month",
           min_value=0),
        _c("total_gross_wage", pl.Float64(), False, f"all employees together, {_MONEY}",
           min_value=0),
        _c("filed_on", pl.Date(), False, "day the filing reached the tax administration"),
        _c("is_correction", pl.Boolean(), False, "replaces an earlier filing"),
    ),
    cross_rules=(
        _first_of_month("workforce", "period"),
        _not_before("workforce", "filed_on", "period"),
    ),
    references=(Reference("sponsor_id", "sponsors", "sponsor_id"),),
)

NOTIFICATIONS = Table(
    name="notifications",
    description="What sponsors reported to the IND.",
    key=("notification_id",),
    columns=(
        _c("notification_id", pl.String(), False, "unique notification id"),
        _c("sponsor_id", pl.String(), False, "the sponsor"),
        _c("person_key", pl.String(), True, "the migrant; null for notices about the sponsor"),
        _c("kind", pl.String(), False, "what changed", enum=NOTIFICATION_KINDS),
        _c("event_on", pl.Date(), False, "when the change happened"),
        _c("filed_on", pl.Date(), False, "when it was reported"),
    ),
    # A notice filed before the event it reports is lawful advance notice: counted, kept.
    warnings=(_cross("notifications", "filed_before_event", "filed_on is before event_on "
                     "(advance notice)", ("filed_on", "event_on"),
                     lambda: pl.col("filed_on") < pl.col("event_on")),),
    references=(Reference("sponsor_id", "sponsors", "sponsor_id"),),
)

INSPECTIONS = Table(
    name="inspections",
    description="Outcomes of past inspections: the labels.",
    key=("inspection_id", "recorded_on"),
    columns=(
        _c("inspection_id", pl.String(), False, "unique inspection id"),
        _c("sponsor_id", pl.String(), False, "the sponsor"),
        _c("opened_on", pl.Date(), False, "day the inspection opened"),
        _c("closed_on", pl.Date(), True, "day it closed; null while open"),
        _c("selection", pl.String(), False, "why this sponsor was inspected", enum=SELECTIONS),
        _c("outcome", pl.String(), False, "outcome", enum=OUTCOMES),
        _c("findings", pl.List(pl.String()), True, "what was found; in CSV separated by ;",
           enum=FINDINGS),
        _c("fine_eur", pl.Float64(), True, f"fine, {_MONEY}", min_value=0),
        _c("recorded_on", pl.Date(), True, _RECORDED_ON + "of the outcome recorded"),
        _c("plan_id", pl.String(), True, "the inspection plan that chose this sponsor"),
        _c("inclusion_probability", pl.Float64(), True,
           "the chance that the plan's design would choose this sponsor",
           min_value=0, strict_min=True, max_value=1),
    ),
    cross_rules=(
        _not_before("inspections", "closed_on", "opened_on"),
        _value_exactly_when_null("inspections", "outcome", "OPEN", "closed_on"),
        _not_before("inspections", "recorded_on", "closed_on"),
        _present_exactly_when("inspections", "plan_id", "inclusion_probability"),
    ),
    references=(Reference("sponsor_id", "sponsors", "sponsor_id"),),
)

#: The seven contract tables, in dependency order (sponsors first).
TABLES: dict[str, Table] = {
    t.name: t
    for t in (SPONSORS, SPONSOR_OFFICERS, PERMITS, PAYROLL, WORKFORCE, NOTIFICATIONS,
              INSPECTIONS)
}

#: Written only by the simulator; read only by evaluation, never by features or models.
TRUTH = Table(
    name="truth",
    description="Ground truth of a simulated world (evaluation only).",
    key=("sponsor_id",),
    columns=(
        _c("sponsor_id", pl.String(), False, "the sponsor"),
        _c("is_abusive", pl.Boolean(), False, "abuses the scheme at some point"),
        _c("typologies", pl.List(pl.String()), False, "abuse typologies present"),
        _c("abuse_from", pl.Date(), True, "first day of abuse"),
        _c("abuse_until", pl.Date(), True, "last day of abuse; null while it goes on"),
    ),
)

#: Reference data shipped with the service.
SALARY_THRESHOLDS = Table(
    name="salary_thresholds",
    description="Monthly salary criterion by scheme and start date.",
    key=("valid_from", "scheme"),
    columns=(
        _c("valid_from", pl.Date(), False, "first day in force"),
        _c("scheme", pl.String(), False, "scheme", enum=SCHEMES),
        _c("monthly_threshold", pl.Float64(), False,
           "euro, gross, excluding holiday allowance", min_value=0, strict_min=True),
    ),
)


def _outside_set(name: str, allowed: list[str], is_list: bool) -> Callable[[], pl.Expr]:
    """The in-set rule's flag: a value (any element of a list) outside ``allowed``."""
    if is_list:
        return lambda: pl.col(name).list.eval(
            ~pl.element().is_in(allowed)).list.any().fill_null(False)
    return lambda: pl.col(name).is_not_null() & ~pl.col(name).is_in(allowed)


def _column_rules(table: Table) -> list[Rule]:
    rules: list[Rule] = []
    for col in table.columns:
        n = col.name
        if not col.nullable:
            rules.append(Rule(f"{n}_not_null", table.name, "not_null", f"{n} is present",
                              (lambda n=n: pl.col(n).is_null()), (n,)))
        if col.enum is not None:
            allowed = list(col.enum)
            rules.append(Rule(f"{n}_in_set", table.name, "in_set",
                              f"{n} is one of {', '.join(allowed)}",
                              _outside_set(n, allowed, isinstance(col.dtype, pl.List)), (n,),
                              {"value_set": allowed}))
        if col.min_value is not None or col.max_value is not None:
            lo, hi = col.min_value, col.max_value

            def between(n: str = n, lo: float | None = lo, hi: float | None = hi,
                        strict: bool = col.strict_min) -> pl.Expr:
                bad = pl.lit(False)
                if lo is not None:
                    bad = bad | ((pl.col(n) <= lo) if strict else (pl.col(n) < lo))
                if hi is not None:
                    bad = bad | (pl.col(n) > hi)
                return pl.col(n).is_not_null() & bad

            op = ">" if col.strict_min else ">="
            text = " and ".join(
                ([f"{n} {op} {lo:g}"] if lo is not None else [])
                + ([f"{n} <= {hi:g}"] if hi is not None else []))
            rules.append(Rule(f"{n}_in_range", table.name, "between", text, between, (n,),
                              {"min_value": lo, "max_value": hi,
                               "strict_min": col.strict_min}))
        if col.pattern is not None:
            rules.append(Rule(f"{n}_format", table.name, "regex",
                              f"{n} matches {col.pattern}",
                              (lambda n=n, p=col.pattern: pl.col(n).is_not_null()
                               & ~pl.col(n).str.contains(p)), (n,), {"regex": col.pattern}))
    return rules


def row_rules(table: Table) -> list[Rule]:
    """All rules a single row can be checked against on its own, column rules first."""
    return _column_rules(table) + list(table.cross_rules)


def key_rule(table: Table) -> Rule:
    """Key uniqueness: every row of a duplicated key breaks it (none is preferred)."""
    key = list(table.key)
    return Rule(f"{'_'.join(key)}_unique" if len(key) == 1 else "key_unique", table.name,
                "unique_key", f"({', '.join(key)}) is unique",
                lambda: pl.struct(key).is_duplicated(), tuple(key))


def reference_rules(table: Table) -> list[Reference]:
    return list(table.references)


def restricted_columns(table_name: str) -> list[str]:
    return [c for t, c in RESTRICTED_COLUMNS if t == table_name]


def empty_frame(table: Table) -> pl.DataFrame:
    """A frame with the table's columns and types and no rows."""
    return pl.DataFrame(schema=table.schema)
