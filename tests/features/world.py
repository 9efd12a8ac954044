"""Small hand-made sponsor worlds for feature tests: rows in, contract-typed frames out."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from sponsorwatch.contract import TABLES

D = dt.date
FOUNDED = D(2010, 1, 1)
RECOGNISED = D(2015, 1, 1)


def features_by_sponsor(world: World, as_of: dt.date) -> dict[str, dict[str, Any]]:
    """Build one snapshot of ``world`` and key its rows by sponsor_id."""
    from features.build import build_features
    from sponsorwatch.thresholds import load_thresholds

    frame = build_features(world.frames(), as_of, load_thresholds()).collect()
    return {row["sponsor_id"]: row for row in frame.iter_rows(named=True)}


def months(first: dt.date, count: int) -> list[dt.date]:
    """``count`` first-of-month dates from ``first`` on."""
    out = []
    year, month = first.year, first.month
    for _ in range(count):
        out.append(D(year, month, 1))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def next_month(period: dt.date, days: int = 10) -> dt.date:
    """A day in the month after ``period`` (the normal filing day)."""
    return months(period, 2)[1] + dt.timedelta(days=days - 1)


@dataclass
class World:
    """Rows of every contract table; ``frames()`` types them by the contract."""

    rows: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {name: [] for name in TABLES})
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def sponsor(self, sponsor_id: str, *, founded_on: dt.date = FOUNDED,
                recognised_on: dt.date = RECOGNISED, ended_on: dt.date | None = None,
                end_reason: str | None = None, legal_form: str = "BV", sbi_code: str = "6201",
                address_key: str | None = None) -> World:
        self.rows["sponsors"].append(dict(
            sponsor_id=sponsor_id, name=f"Sponsor {sponsor_id}", legal_form=legal_form,
            sbi_code=sbi_code, postcode4="1011", address_key=address_key,
            founded_on=founded_on, recognised_on=recognised_on,
            recognition_ended_on=ended_on, recognition_end_reason=end_reason))
        return self

    def permit(self, sponsor_id: str, person_key: str, *, submitted_on: dt.date,
               decided_on: dt.date | None = None, decision: str = "GRANTED",
               scheme: str = "KM_REGULAR", salary: float = 6000.0, hours: float = 40.0,
               valid_from: dt.date | None = None, valid_until: dt.date | None = None,
               nationality: str = "IND", application_id: str | None = None) -> World:
        decided_on = decided_on if decided_on is not None or decision == "PENDING" else (
            submitted_on + dt.timedelta(days=30))
        granted = decision == "GRANTED"
        self.rows["permits"].append(dict(
            application_id=application_id or f"A{next(self._ids)}", sponsor_id=sponsor_id,
            person_key=person_key, scheme=scheme, submitted_on=submitted_on,
            decided_on=decided_on, decision=decision, age_at_submission=35,
            declared_monthly_salary=salary, declared_weekly_hours=hours, isco_code="2512",
            valid_from=(valid_from or decided_on) if granted else None,
            valid_until=(valid_until or D(2030, 1, 1)) if granted else None,
            nationality=nationality))
        return self

    def pay(self, sponsor_id: str, person_key: str, periods: list[dt.date], wage: float,
            *, hours: float = 173.33, filed_on: dt.date | None = None,
            correction: bool = False) -> World:
        for period in periods:
            self.rows["payroll"].append(dict(
                sponsor_id=sponsor_id, person_key=person_key, period=period,
                gross_wage=wage, hours_paid=hours, filed_on=filed_on or next_month(period),
                is_correction=correction))
        return self

    def totals(self, sponsor_id: str, periods: list[dt.date], headcount: int,
               total: float, *, filed_on: dt.date | None = None,
               correction: bool = False) -> World:
        for period in periods:
            self.rows["workforce"].append(dict(
                sponsor_id=sponsor_id, period=period, headcount=headcount,
                total_gross_wage=total, filed_on=filed_on or next_month(period),
                is_correction=correction))
        return self

    def notice(self, sponsor_id: str, person_key: str | None, kind: str,
               event_on: dt.date, filed_on: dt.date) -> World:
        self.rows["notifications"].append(dict(
            notification_id=f"N{next(self._ids)}", sponsor_id=sponsor_id,
            person_key=person_key, kind=kind, event_on=event_on, filed_on=filed_on))
        return self

    def inspection(self, sponsor_id: str, *, opened_on: dt.date, closed_on: dt.date | None,
                   outcome: str, fine: float | None = None,
                   selection: str = "RANDOM") -> World:
        self.rows["inspections"].append(dict(
            inspection_id=f"I{next(self._ids)}", sponsor_id=sponsor_id, opened_on=opened_on,
            closed_on=closed_on, selection=selection, outcome=outcome,
            findings=["UNDERPAYMENT"] if outcome == "VIOLATION" else None, fine_eur=fine))
        return self

    def officer(self, sponsor_id: str, officer_key: str, *, from_date: dt.date,
                to_date: dt.date | None = None, role: str = "DIRECTOR") -> World:
        self.rows["sponsor_officers"].append(dict(
            sponsor_id=sponsor_id, officer_key=officer_key, role=role, from_date=from_date,
            to_date=to_date))
        return self

    def frames(self) -> dict[str, pl.LazyFrame]:
        return {name: pl.DataFrame(rows, schema=TABLES[name].schema).lazy()
                if rows else pl.DataFrame(schema=TABLES[name].schema).lazy()
                for name, rows in self.rows.items()}
