"""What sponsors report to the IND: ends of employment, salary drops, other changes.

The legal duty is to report within 28 days. Most sponsors do; some are late; sponsors
failing their duty (and permit mills) often never report an end at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipelines.simulate.calendar import NEVER
from pipelines.simulate.migrants import Employments
from pipelines.simulate.population import Population
from pipelines.simulate.thresholds import Thresholds

#: Yearly rate of notices about the sponsor itself (address, name, legal form).
SPONSOR_NOTICE_RATE = 0.12


@dataclass
class NotificationRows:
    sponsor: np.ndarray
    employment: np.ndarray  # index into the chunk's Employments, -1 for sponsor notices
    kind: np.ndarray  # object
    event_on: np.ndarray
    filed_on: np.ndarray


def _delay(on_time: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n = on_time.size
    return np.where(rng.random(n) < on_time, rng.integers(0, 29, n), rng.integers(29, 200, n))


def build_notifications(pop: Population, emp: Employments, sponsors: np.ndarray,
                        thresholds: Thresholds, rng: np.random.Generator) -> NotificationRows:
    """Notifications of the chunk's employments and sponsors, filed by the window's end."""
    parts: list[tuple[np.ndarray, np.ndarray, str, np.ndarray, np.ndarray]] = []

    ended = np.flatnonzero(emp.employed & (emp.stop < NEVER) & (emp.stop >= pop.start - 200))
    reported = ended[rng.random(ended.size) < emp.report_end[ended]]
    # In groups (large firms, shared boards) many leavers move to a sister company: reported
    # as SPONSOR_CHANGED for the migrant, not as an end of employment.
    grouped = (pop.is_archetype("large_firm") | (pop.officer_pool >= 0))[emp.sponsor[reported]]
    transfer = grouped & (rng.random(reported.size) < 0.4)
    for kind, rows in (("EMPLOYMENT_ENDED", reported[~transfer]),
                       ("SPONSOR_CHANGED", reported[transfer])):
        event = emp.stop[rows]
        parts.append((emp.sponsor[rows], rows, kind, event,
                      event + _delay(emp.report_on_time[rows], rng)))

    changed = np.flatnonzero(emp.employed & (emp.hours_change_day < NEVER))
    event = emp.hours_change_day[changed]
    parts.append((emp.sponsor[changed], changed, "HOURS_CHANGED", event,
                  event + _delay(emp.report_on_time[changed], rng)))
    threshold = thresholds.on_days(emp.scheme[changed], event)
    below = changed[(emp.declared[changed] * emp.hours_factor[changed]) < threshold]
    event = emp.hours_change_day[below]
    parts.append((emp.sponsor[below], below, "SALARY_BELOW_CRITERION", event,
                  event + _delay(emp.report_on_time[below], rng)))

    job = np.flatnonzero(emp.employed & (emp.job_change_day < NEVER)
                         & (rng.random(emp.sponsor.size) < 0.8))
    event = emp.job_change_day[job]
    parts.append((emp.sponsor[job], job, "JOB_CHANGED", event,
                  event + _delay(emp.report_on_time[job], rng)))

    lo = np.maximum(pop.recognised[sponsors], pop.start)
    hi = np.minimum(pop.ended[sponsors], pop.end)
    years = np.clip(hi - lo, 0, None) / 365.25
    count = rng.poisson(SPONSOR_NOTICE_RATE * years)
    owner = np.repeat(np.arange(sponsors.size), count)
    event = lo[owner] + (rng.random(owner.size) * (hi[owner] - lo[owner])).astype(np.int64)
    s = sponsors[owner]
    parts.append((s, np.full(s.size, -1), "SPONSOR_CHANGED", event,
                  event + _delay(pop.reports_on_time[s], rng)))
    # A sponsor that stops (bankrupt, withdraws) usually says so.
    stops = sponsors[np.isin(pop.end_reason[sponsors], ["BANKRUPT", "WITHDRAWN_BY_SPONSOR"])
                     & (rng.random(sponsors.size) < 0.7)]
    event = pop.ended[stops]
    parts.append((stops, np.full(stops.size, -1), "SPONSOR_CHANGED", event,
                  event + rng.integers(0, 20, stops.size)))

    sponsor = np.concatenate([p[0] for p in parts])
    employment = np.concatenate([p[1] for p in parts])
    kind = np.concatenate([np.full(p[0].size, p[2], dtype=object) for p in parts])
    event_on = np.concatenate([p[3] for p in parts])
    filed_on = np.concatenate([p[4] for p in parts])
    filed_on = np.maximum(filed_on, event_on)
    keep = (filed_on <= pop.end) & (filed_on >= pop.start)
    return NotificationRows(sponsor[keep], employment[keep], kind[keep], event_on[keep],
                            filed_on[keep])
