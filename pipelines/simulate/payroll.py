"""Monthly payroll filings per migrant and the employer totals filed with them.

One row per employment and month, built with ``np.repeat`` (no loop over migrants or
months). A sponsor files each month once, usually within the following month; some
months late; some months are re-filed later as corrections (``is_correction``), which
replace every row of that sponsor and month and its workforce total.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipelines.simulate.calendar import NEVER, first_day, month_of_day
from pipelines.simulate.migrants import Employments
from pipelines.simulate.population import Population
from pipelines.simulate.thresholds import Thresholds
from pipelines.simulate.typologies import SECTORS

HOURS_PER_WEEK_TO_MONTH = 52.0 / 12.0


@dataclass
class PayrollRows:
    sponsor: np.ndarray
    employment: np.ndarray  # index into the chunk's Employments
    period: np.ndarray  # month number
    gross_wage: np.ndarray
    hours_paid: np.ndarray
    filed_on: np.ndarray
    is_correction: np.ndarray


@dataclass
class WorkforceRows:
    sponsor: np.ndarray
    period: np.ndarray
    headcount: np.ndarray
    total_gross_wage: np.ndarray
    filed_on: np.ndarray
    is_correction: np.ndarray


def _ranges(first: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Owner index and value of every element of the ranges first[i] .. first[i]+count[i]-1."""
    owner = np.repeat(np.arange(first.size), count)
    starts = np.repeat(np.cumsum(count) - count, count)
    return owner, first[owner] + (np.arange(owner.size) - starts)


def build_payroll(pop: Population, emp: Employments, sponsors: np.ndarray,
                  thresholds: Thresholds, rng: np.random.Generator,
                  ) -> tuple[PayrollRows, WorkforceRows]:
    """Payroll and workforce filings of the chunk ``sponsors`` (contiguous, ascending)."""
    start_m, end_m = int(month_of_day(np.array([pop.start]))[0]), int(
        month_of_day(np.array([pop.end]))[0])

    # Sponsor-months: every month the sponsor is recognised within the window.
    s_first = np.maximum(month_of_day(pop.recognised[sponsors]), start_m)
    s_last = np.minimum(month_of_day(np.minimum(pop.ended[sponsors], pop.end + 1) - 1), end_m)
    s_count = np.clip(s_last - s_first + 1, 0, None)
    sm_owner, sm_month = _ranges(s_first, s_count)
    sm_offset = np.cumsum(s_count) - s_count
    sm_sponsor = sponsors[sm_owner]
    n_sm = sm_owner.size
    late = rng.random(n_sm) < pop.late_share[sm_sponsor]
    filed = first_day(sm_month + 1) + rng.integers(0, 28, n_sm) + np.where(
        late, rng.integers(30, 120, n_sm), 0)
    corrected = rng.random(n_sm) < pop.correction_share[sm_sponsor]
    corrected_on = filed + rng.integers(20, 300, n_sm)

    # Employment-months.
    employed = np.flatnonzero(emp.employed)
    first_m = np.maximum(month_of_day(emp.start[employed]), start_m)
    stop = np.where(emp.stop[employed] == NEVER, pop.end, emp.stop[employed])
    last_m = np.minimum(month_of_day(stop), end_m)
    count = np.clip(last_m - first_m + 1, 0, None)
    owner, month = _ranges(first_m, count)
    e = employed[owner]
    n = e.size

    start_month = month_of_day(emp.start[e])
    years_in = (month - start_month + emp.raise_phase[e]) // 12
    base = emp.declared[e] * (1.0 + emp.raise_rate[e]) ** years_in
    threshold = thresholds.in_month(emp.scheme[e], month)
    wage = np.maximum(base, threshold * (1.0 + emp.floor_margin[e]))
    day = first_day(month)
    wage = np.where(day >= emp.pegged_from[e],
                    threshold * emp.peg_ratio[e], wage)
    hours = emp.weekly_hours[e] * HOURS_PER_WEEK_TO_MONTH

    changed = day > emp.hours_change_day[e]
    wage = np.where(changed, wage * emp.hours_factor[e], wage)
    hours = np.where(changed, hours * emp.hours_factor[e], hours)
    job_changed = day > emp.job_change_day[e]
    wage = np.where(job_changed, wage * 1.06, wage)

    sponsor = emp.sponsor[e]
    underpaying = ((emp.underpaid_ratio[e] > 0) & (day >= pop.abuse_from[sponsor])
                   & (day < pop.abuse_until[sponsor]) & (rng.random(n) < 0.85))
    wage = np.where(underpaying, emp.declared[e] * emp.underpaid_ratio[e]
                    * rng.uniform(0.95, 1.05, n), wage)
    abuse_months = ((day >= pop.abuse_from[sponsor]) & (day < pop.abuse_until[sponsor])
                    & (rng.random(n) < 0.85))
    hours = np.where(abuse_months, hours * emp.excess_hours[e], hours)
    overtime_month = rng.random(n) < 0.3
    hours = np.where(overtime_month, hours * emp.overtime[e], hours)
    wage = np.where(overtime_month, wage * emp.overtime[e], wage)

    # Part months at the start and the end of an employment.
    days_in_month = first_day(month + 1) - day
    begin = np.maximum(emp.start[e], day)
    finish = np.minimum(np.where(emp.stop[e] == NEVER, NEVER, emp.stop[e]), day + days_in_month - 1)
    share = (finish - begin + 1) / days_in_month
    wage = wage * share
    hours = hours * share

    paid = rng.random(n) >= emp.gap_chance[e]
    keep = np.flatnonzero(paid)
    e, month, sponsor = e[keep], month[keep], sponsor[keep]
    wage = np.round(wage[keep], 2)
    hours = np.round(hours[keep], 2)

    local = np.searchsorted(sponsors, sponsor)
    sm = sm_offset[local] + (month - s_first[local])
    payroll = _with_corrections(sponsor, e, month, wage, hours, sm, filed, corrected,
                                corrected_on, rng)
    workforce = _workforce(pop, sm_sponsor, sm_month, sm, wage, filed, corrected, corrected_on,
                           payroll, rng)
    return _cut(payroll, pop.end), _cut(workforce, pop.end)


def _with_corrections(sponsor: np.ndarray, e: np.ndarray, month: np.ndarray, wage: np.ndarray,
                      hours: np.ndarray, sm: np.ndarray, filed: np.ndarray,
                      corrected: np.ndarray, corrected_on: np.ndarray,
                      rng: np.random.Generator) -> PayrollRows:
    again = np.flatnonzero(corrected[sm])
    k = again.size
    revised = np.where(rng.random(k) < 0.5, 1.0, rng.uniform(0.98, 1.06, k))
    n = sponsor.size
    return PayrollRows(
        sponsor=np.concatenate([sponsor, sponsor[again]]),
        employment=np.concatenate([e, e[again]]),
        period=np.concatenate([month, month[again]]),
        gross_wage=np.concatenate([wage, np.round(wage[again] * revised, 2)]),
        hours_paid=np.concatenate([hours, hours[again]]),
        filed_on=np.concatenate([filed[sm], corrected_on[sm[again]]]),
        is_correction=np.concatenate([np.zeros(n, dtype=bool), np.ones(k, dtype=bool)]),
    )


def _workforce(pop: Population, sm_sponsor: np.ndarray, sm_month: np.ndarray, sm: np.ndarray,
               wage: np.ndarray, filed: np.ndarray, corrected: np.ndarray,
               corrected_on: np.ndarray, payroll: PayrollRows,
               rng: np.random.Generator) -> WorkforceRows:
    n_sm = sm_sponsor.size
    migrants = np.bincount(sm, minlength=n_sm)
    migrant_wages = np.bincount(sm, weights=wage, minlength=n_sm)
    # Non-migrant staff drifts around its level; shells have none.
    drift = np.exp(rng.normal(0.0, 0.05, n_sm))
    locals_ = np.round(pop.locals_[sm_sponsor] * drift).astype(np.int64)
    locals_ = np.where(pop.locals_[sm_sponsor] == 0, 0, np.maximum(locals_, 1))
    local_wage = np.array([s.local_wage for s in SECTORS])[pop.sector[sm_sponsor]]
    local_bill = locals_ * local_wage * rng.uniform(0.9, 1.1, n_sm)
    headcount = migrants + locals_
    total = np.round(migrant_wages + local_bill, 2)
    corrected_rows = payroll.is_correction
    revised_wages = np.bincount(
        sm[np.flatnonzero(corrected[sm])], weights=payroll.gross_wage[corrected_rows],
        minlength=n_sm)
    again = np.flatnonzero(corrected & (headcount > 0))
    revised_total = np.round(revised_wages[again] + local_bill[again], 2)
    present = np.flatnonzero(headcount > 0)
    return WorkforceRows(
        sponsor=np.concatenate([sm_sponsor[present], sm_sponsor[again]]),
        period=np.concatenate([sm_month[present], sm_month[again]]),
        headcount=np.concatenate([headcount[present], headcount[again]]),
        total_gross_wage=np.concatenate([total[present], revised_total]),
        filed_on=np.concatenate([filed[present], corrected_on[again]]),
        is_correction=np.concatenate([np.zeros(present.size, dtype=bool),
                                      np.ones(again.size, dtype=bool)]),
    )


def _cut(rows: PayrollRows | WorkforceRows, end: int):  # noqa: ANN202 - same type back
    """Only filings that reached the tax administration by the end of the window."""
    keep = rows.filed_on <= end
    return type(rows)(**{k: v[keep] for k, v in vars(rows).items()})
