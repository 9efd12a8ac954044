"""Migrants: how many each sponsor hires per year, and each employment's permit and pay.

Hiring is planned for all sponsors at once (a sponsor x year matrix, cheap even for
120,000 sponsors); the employments themselves are drawn per chunk of sponsors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipelines.simulate.calendar import NEVER, first_day, month_of_day
from pipelines.simulate.population import Population
from pipelines.simulate.thresholds import Thresholds
from pipelines.simulate.typologies import SECTORS, typology

SCHEMES = ("KM_REGULAR", "KM_UNDER_30", "KM_REDUCED", "EU_BLUE_CARD")
REGULAR, UNDER_30, REDUCED, BLUE_CARD = range(4)
#: Days from submission to decision (the IND decides most within weeks).
DECISION_DAYS_MEAN = 21
#: Share of applications refused / withdrawn.
REFUSED_SHARE = 0.025
WITHDRAWN_SHARE = 0.01
#: Longest permit for a knowledge migrant.
MAX_PERMIT_DAYS = 5 * 365


def tenure_months(pop: Population) -> np.ndarray:
    """Median months a migrant stays with each sponsor."""
    base = np.array([s.tenure_months for s in SECTORS])[pop.sector]
    base = np.where(pop.is_archetype("university"), 26.0, base)
    base = np.where(pop.is_archetype("branch_office"), 48.0, base)
    base = np.where(pop.has("shell"), 60.0, base)
    return base


def plan_hires(pop: Population, year_starts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Applications submitted per sponsor and year (sponsor x year counts)."""
    lo = np.maximum(pop.recognised, year_starts[0])[:, None]
    hi = np.minimum(pop.ended, pop.end)[:, None]
    active_days = np.clip(np.minimum(hi, year_starts[None, 1:])
                          - np.maximum(lo, year_starts[None, :-1]), 0, None)
    per_day = pop.stock / (tenure_months(pop) * 30.4)
    rate = per_day[:, None] * active_days
    young = (year_starts[None, :-1] - pop.recognised[:, None]) < 2 * 365
    rate = rate * np.where(young & pop.is_archetype("startup")[:, None], 2.0, 1.0)
    milling = (pop.has("paper_jobs")[:, None]
               & (year_starts[None, 1:] > pop.abuse_from[:, None])
               & (year_starts[None, :-1] < pop.abuse_until[:, None]))
    # A mill sells permits whatever its size: several a year at least.
    mill_rate = np.maximum(rate * rng.uniform(2.5, 5.0, pop.n)[:, None],
                           rng.uniform(2.0, 6.0, pop.n)[:, None] * active_days / 365.25)
    rate = np.where(milling, mill_rate, rate)
    # Market growth: more permits in later years (13,000 a year around 2023).
    growth = np.linspace(0.8, 1.15, year_starts.size - 1)[None, :]
    hires = rng.poisson(rate * growth)
    # Recognition is asked for with a first application in hand (a founder-director's own
    # permit where there is one); sponsors recognised before the history have theirs already.
    first_year = np.clip(np.searchsorted(year_starts, lo[:, 0], side="right") - 1, 0,
                         year_starts.size - 2)
    first_hire = (pop.migrant_director >= 0) | (pop.recognised >= year_starts[0])
    hires[np.flatnonzero(first_hire), first_year[first_hire]] += 1
    return hires


@dataclass
class Employments:
    """One entry per application (and the employment it led to), ordered by sponsor."""

    sponsor: np.ndarray  # global sponsor index
    person: np.ndarray  # global person index
    #: The migrant founder who is also an officer of the sponsor.
    is_director: np.ndarray
    submitted: np.ndarray
    decided: np.ndarray  # NEVER while pending
    decision: np.ndarray  # object: GRANTED/REFUSED/WITHDRAWN/PENDING
    age: np.ndarray
    scheme: np.ndarray  # int index into SCHEMES
    declared: np.ndarray
    weekly_hours: np.ndarray
    isco: np.ndarray  # object
    nationality: np.ndarray  # object
    valid_from: np.ndarray  # NEVER when not granted
    valid_until: np.ndarray
    start: np.ndarray  # first working day, NEVER when not employed
    stop: np.ndarray  # last working day, NEVER while employed at the end
    raise_rate: np.ndarray
    raise_phase: np.ndarray
    floor_margin: np.ndarray
    #: First day the wage tracks the threshold and stops rising (salary repayment, or a
    #: research pay scale tied to the criterion); NEVER when it does not.
    pegged_from: np.ndarray
    peg_ratio: np.ndarray
    #: Paid below the declared salary in abuse months (0 = not underpaid).
    underpaid_ratio: np.ndarray
    #: Unpaid extra hours in abuse months (1 = none): hours paid over contract, same wage.
    excess_hours: np.ndarray
    #: Paid overtime in some months (1 = none): hours and wage both up.
    overtime: np.ndarray
    #: Paper job: probability of a month without payroll (1 = never paid).
    gap_chance: np.ndarray
    hours_change_day: np.ndarray
    hours_factor: np.ndarray
    job_change_day: np.ndarray
    #: Probability the end is reported at all, and within 28 days.
    report_end: np.ndarray
    report_on_time: np.ndarray

    @property
    def employed(self) -> np.ndarray:
        return self.start < NEVER


def draw_employments(pop: Population, hires: np.ndarray, year_starts: np.ndarray,
                     sponsors: np.ndarray, person_offset: int, thresholds: Thresholds,
                     rng: np.random.Generator, nationality_rng: np.random.Generator,
                     ) -> Employments:
    """All applications of ``sponsors`` (a contiguous range of sponsor indices).

    Nationality comes from its own random stream and is drawn from the sector's mix only,
    so it is never a cause of anything else in the world (a test swaps it and compares).
    """
    counts = hires[sponsors]
    n_years = counts.shape[1]
    per_sponsor = counts.sum(axis=1)
    sponsor = np.repeat(sponsors, per_sponsor)
    year = np.repeat(np.tile(np.arange(n_years), sponsors.size), counts.ravel())
    m = sponsor.size

    lo = np.maximum(np.maximum(pop.recognised[sponsor], year_starts[year]), year_starts[0])
    hi = np.minimum(np.minimum(pop.ended[sponsor], pop.end), year_starts[year + 1] - 1)
    hi = np.maximum(hi, lo)
    submitted = lo + (rng.random(m) * (hi - lo + 1)).astype(np.int64)
    submitted = np.minimum(submitted, hi)
    first_of_sponsor = np.r_[0, np.cumsum(per_sponsor)[:-1]][per_sponsor > 0]
    director_first = first_of_sponsor[pop.migrant_director[sponsors[per_sponsor > 0]] >= 0]
    submitted[director_first] = np.minimum(lo[director_first] + rng.integers(5, 40,
                                                                              director_first.size),
                                           hi[director_first])
    order = np.lexsort((submitted, sponsor))
    sponsor, submitted = sponsor[order], submitted[order]
    person = person_offset + np.arange(m, dtype=np.int64)
    is_director = np.zeros(m, dtype=bool)
    is_director[director_first] = True
    is_director = is_director[order]

    sec = pop.sector[sponsor]
    uni = pop.is_archetype("university")[sponsor]
    startup = pop.is_archetype("startup")[sponsor]
    consultancy = pop.is_archetype("it_consultancy")[sponsor]

    age = np.where(uni, rng.normal(28.5, 3.5, m), rng.normal(33.5, 6.5, m))
    age = np.clip(np.round(age), 21, 64).astype(np.int64)
    graduate = (age <= 32) & (rng.random(m) < np.select([uni, startup], [0.4, 0.2], 0.06))
    rich = rng.random(m) < np.where(np.isin(sec, [0]), 0.12, 0.05)
    scheme = np.select([graduate, rich, age < 30], [REDUCED, BLUE_CARD, UNDER_30], REGULAR)

    ratio = (np.array([s.salary_ratio for s in SECTORS])[sec] * rng.lognormal(0.0, 0.14, m))
    ratio = np.where(consultancy, rng.uniform(1.3, 2.2, m), ratio)
    ratio = np.where(pop.is_archetype("branch_office")[sponsor], rng.uniform(1.3, 2.5, m),
                     ratio)
    ratio = np.where(startup, rng.uniform(1.0, 1.12, m), ratio)
    ratio = np.where(uni, rng.uniform(1.02, 1.3, m), ratio)
    # Research pays early-career staff on scales tied to the criterion: near it, moving only
    # as it is indexed (looks like a kickback's bunching, is not).
    scale_tied = pop.sector_is("research")[sponsor] & (scheme != BLUE_CARD) & (
        rng.random(m) < 0.5)
    ratio = np.where(scale_tied, rng.uniform(1.0, 1.04, m), ratio)
    ratio = np.where(scheme == BLUE_CARD, rng.uniform(1.0, 1.5, m), ratio)
    ratio = np.maximum(ratio, 1.0 + rng.uniform(0.0, 0.02, m))

    abuse_from = pop.abuse_from[sponsor]
    abuse_until = pop.abuse_until[sponsor]
    in_abuse = (submitted >= abuse_from - 60) & (submitted < abuse_until)

    def affected(name: str) -> np.ndarray:
        t = typology(name)
        return pop.has(name)[sponsor] & (rng.random(m) < t.strength * pop.intensity[sponsor])

    # Salary repayment: a wage pegged just above the criterion, for those hired in the abuse
    # and for those already there once it starts (their raises stop).
    kickback = affected("salary_repayment") & (submitted < abuse_until)
    peg_ratio = rng.uniform(1.0, 1.025, m)
    ratio = np.where(kickback & in_abuse, peg_ratio, ratio)
    peg_ratio = np.where(scale_tied, ratio, peg_ratio)
    pegged = kickback | scale_tied
    shell = pop.has("shell")[sponsor]
    ratio = np.where(shell, rng.uniform(1.0, 1.06, m), ratio)
    paper = affected("paper_jobs") & in_abuse
    ratio = np.where(paper, rng.uniform(1.0, 1.08, m), ratio)
    underpaid = affected("underpayment") & (submitted < abuse_until)
    # Paid overtime is ordinary in greenhouses and construction (hours and wage both up).
    overtime = np.where(pop.sector_is("agriculture", "construction")[sponsor]
                        & (rng.random(m) < 0.35), rng.uniform(1.1, 1.3, m), 1.0)

    threshold_at_submission = thresholds.on_days(scheme, submitted)
    decision = np.full(m, "GRANTED", dtype=object)
    u = rng.random(m)
    refused = (u < REFUSED_SHARE) & ~is_director
    withdrawn = (u >= REFUSED_SHARE) & (u < REFUSED_SHARE + WITHDRAWN_SHARE) & ~is_director
    # Half of the refusals declared too little; the IND refuses those.
    ratio = np.where(refused & (rng.random(m) < 0.5), rng.uniform(0.85, 0.99, m), ratio)
    declared = np.round(threshold_at_submission * ratio, 0)
    decision[refused] = "REFUSED"
    decision[withdrawn] = "WITHDRAWN"
    decided = submitted + rng.gamma(2.0, DECISION_DAYS_MEAN / 2.0, m).astype(np.int64) + 1
    pending = decided > pop.end
    decision[pending] = "PENDING"
    decided = np.where(pending, NEVER, decided)
    decision[is_director & ~pending] = "GRANTED"
    granted = decision == "GRANTED"

    valid_from = decided + rng.integers(0, 30, m)
    snap = rng.random(m) < 0.65
    valid_from = np.where(snap, first_day(month_of_day(valid_from) + 1), valid_from)
    tenure = _draw_tenure(pop, sponsor, m, uni, rng)
    tenure = np.where(paper, rng.uniform(3, 10, m) * 30.4, tenure)
    tenure = np.where(is_director, 15 * 365, tenure)
    fixed_term = uni | (rng.random(m) < 0.3)
    permit_days = np.where(fixed_term, np.minimum(tenure + rng.integers(0, 120, m),
                                                  MAX_PERMIT_DAYS), MAX_PERMIT_DAYS)
    permit_days = np.maximum(permit_days, 90).astype(np.int64)
    valid_until = valid_from + permit_days
    stop = valid_from + np.minimum(tenure, permit_days).astype(np.int64)
    month_end = first_day(month_of_day(stop) + 1) - 1
    stop = np.where(rng.random(m) < 0.6, month_end, stop)
    stop = np.minimum(stop, valid_until - 1)
    stop = np.minimum(stop, pop.ended[sponsor] - 1)
    start = np.where(granted, valid_from, NEVER)
    # A start after the sponsor's end means the job never began.
    start = np.where(start >= np.minimum(pop.ended[sponsor], pop.end + 1), NEVER, start)
    stop = np.where(start < NEVER, np.maximum(stop, start), NEVER)
    stop = np.where(stop > pop.end, NEVER, stop)

    # An abusing sponsor abuses at least one migrant employed while it abuses, so its truth
    # label always has some trace in the records (however faint).
    during = ((start < NEVER) & (start < abuse_until)
              & ((stop == NEVER) | (stop >= np.maximum(abuse_from, pop.start))))
    underpaid |= _one_per_sponsor(sponsor, pop.has("underpayment")[sponsor] & during, rng)
    forced_kickback = _one_per_sponsor(sponsor, pop.has("salary_repayment")[sponsor] & during,
                                       rng)
    kickback |= forced_kickback
    pegged |= forced_kickback
    peg_ratio = np.where(forced_kickback & ~scale_tied, rng.uniform(1.0, 1.025, m), peg_ratio)
    paper |= _one_per_sponsor(sponsor, pop.has("paper_jobs")[sponsor] & during, rng)
    underpaid_ratio = np.where(underpaid, rng.uniform(0.55, 0.92, m), 0.0)
    # Where long days are the custom, half the underpaid work unpaid hours instead: the
    # wage looks right, the hours paid run far over the contract.
    long_days = pop.sector_is("restaurants", "hair_beauty", "agriculture", "construction")[
        sponsor]
    unpaid_hours = underpaid & long_days & (rng.random(m) < 0.5)
    underpaid_ratio = np.where(unpaid_hours, 0.0, underpaid_ratio)
    excess_hours = np.where(unpaid_hours, rng.uniform(1.2, 1.45, m), 1.0)

    hours = rng.choice(np.array([40.0, 38.0, 36.0, 32.0]), size=m, p=[0.6, 0.2, 0.15, 0.05])
    raise_rate = np.where(pegged | shell, 0.0, rng.uniform(0.01, 0.06, m))
    raise_rate = np.where(uni, rng.uniform(0.025, 0.045, m), raise_rate)
    honest_change = ~(underpaid | pegged | paper) & (rng.random(m) < 0.04)
    change_day = np.where(honest_change, start + rng.integers(60, 900, m), NEVER)
    change_day = np.where((change_day < NEVER) & (stop < NEVER) & (change_day >= stop), NEVER,
                          change_day)
    hours_factor = np.where(honest_change, rng.choice(np.array([0.8, 0.6, 1.1]), size=m), 1.0)
    # Hours cut below the criterion: the permit lapses, the job ends within three months.
    drops_below = honest_change & (hours_factor < 1.0) & (change_day < NEVER) & (
        declared * hours_factor < threshold_at_submission * 1.08)
    stop = np.where(drops_below & ((stop == NEVER) | (stop > change_day + 90)),
                    np.minimum(change_day + rng.integers(20, 90, m), NEVER), stop)
    stop = np.where(stop > pop.end, NEVER, stop)
    job_change = np.where(rng.random(m) < 0.03, start + rng.integers(90, 1200, m), NEVER)
    job_change = np.where((job_change < NEVER) & (stop < NEVER) & (job_change >= stop), NEVER,
                          job_change)

    gap_chance = np.where(paper, np.where(rng.random(m) < 0.2, 1.0, 0.35), 0.002)
    report_end = pop.reports_end[sponsor].copy()
    report_end = np.where(paper, 0.3 * report_end, report_end)
    report_end = np.where(pop.ended[sponsor] - 1 == stop, 0.5 * report_end, report_end)
    report_on_time = pop.reports_on_time[sponsor]
    nationality = draw_nationality(sec, nationality_rng)
    isco = _draw_isco(sec, rng)
    return Employments(
        is_director=is_director,
        sponsor=sponsor, person=person, submitted=submitted, decided=decided,
        decision=decision, age=age, scheme=scheme, declared=declared, weekly_hours=hours,
        isco=isco, nationality=nationality,
        valid_from=np.where(granted, valid_from, NEVER),
        valid_until=np.where(granted, valid_until, NEVER), start=start, stop=stop,
        raise_rate=raise_rate, raise_phase=rng.integers(0, 12, m),
        floor_margin=rng.uniform(0.0, 0.02, m), peg_ratio=peg_ratio,
        pegged_from=np.where(scale_tied, 0, np.where(kickback, abuse_from, NEVER)),
        underpaid_ratio=underpaid_ratio, excess_hours=excess_hours, overtime=overtime,
        gap_chance=gap_chance,
        hours_change_day=change_day, hours_factor=hours_factor, job_change_day=job_change,
        report_end=report_end, report_on_time=report_on_time)


def _one_per_sponsor(sponsor: np.ndarray, candidate: np.ndarray,
                     rng: np.random.Generator) -> np.ndarray:
    """Mark one random candidate per sponsor (rows ordered by sponsor)."""
    idx = np.flatnonzero(candidate)
    chosen = np.zeros(sponsor.size, dtype=bool)
    if idx.size:
        order = idx[np.lexsort((rng.random(idx.size), sponsor[idx]))]
        first = np.r_[True, sponsor[order][1:] != sponsor[order][:-1]]
        chosen[order[first]] = True
    return chosen


def _draw_tenure(pop: Population, sponsor: np.ndarray, m: int, uni: np.ndarray,
                 rng: np.random.Generator) -> np.ndarray:
    median = tenure_months(pop)[sponsor]
    spread = np.array([s.tenure_spread for s in SECTORS])[pop.sector[sponsor]]
    days = median * 30.4 * np.exp(rng.normal(0.0, 1.0, m) * spread)
    return np.where(uni, rng.uniform(12, 48, m) * 30.4, days)


def draw_nationality(sector: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """ISO alpha-3 nationality of each migrant, from the sector's mix."""
    out = np.empty(sector.size, dtype=object)
    for si, s in enumerate(SECTORS):
        idx = np.flatnonzero(sector == si)
        codes = np.array([c for c, _ in s.nationalities], dtype=object)
        weights = np.array([w for _, w in s.nationalities])
        out[idx] = codes[rng.choice(codes.size, size=idx.size, p=weights / weights.sum())]
    return out


def _draw_isco(sector: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = np.empty(sector.size, dtype=object)
    for si, s in enumerate(SECTORS):
        idx = np.flatnonzero(sector == si)
        codes = np.array(s.isco_codes, dtype=object)
        out[idx] = codes[rng.integers(0, codes.size, idx.size)]
    return out
