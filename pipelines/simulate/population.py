"""Sponsors: sector, archetype, size, dates, officers, addresses, and who abuses what.

Everything here is one row per sponsor (numpy arrays of length n), so the whole
population is drawn in a handful of vectorised steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipelines.simulate.calendar import NEVER, delays, first_day_of_year, year_of_day
from pipelines.simulate.typologies import (
    ARCHETYPE_NAMES,
    ARCHETYPES,
    CO_OCCURRENCE,
    SECTORS,
    TYPOLOGIES,
    TYPOLOGY_NAMES,
)

#: Years of hiring simulated before the window, so sponsors start it with a workforce.
HISTORY_YEARS = 4
#: Share of sponsors already recognised when the window opens (register: 4,700 in 2018,
#: about 10,500 in 2024).
SHARE_RECOGNISED_BEFORE = 0.38
#: Typologies a phoenix brings along from its predecessor: (name, weight).
PHOENIX_CARRIES = (("underpayment", 0.35), ("paper_jobs", 0.3), ("salary_repayment", 0.2),
                   ("shell", 0.15))

SECTOR_INDEX = {s.name: i for i, s in enumerate(SECTORS)}
ARCHETYPE_INDEX = {a: i for i, a in enumerate(ARCHETYPE_NAMES)}
TYPOLOGY_INDEX = {t: i for i, t in enumerate(TYPOLOGY_NAMES)}


@dataclass
class Population:
    """One entry per sponsor; days are integers (see ``calendar``), NEVER where absent."""

    start: int
    end: int
    sector: np.ndarray
    archetype: np.ndarray
    legal_form: np.ndarray
    #: Target number of migrants employed at once.
    stock: np.ndarray
    #: Non-migrant employees.
    locals_: np.ndarray
    founded: np.ndarray
    recognised: np.ndarray
    ended: np.ndarray
    end_reason: np.ndarray
    #: Day the end was recorded at the IND (weeks after its effect; months for a
    #: retroactive revocation); NEVER where recognition does not end.
    end_recorded: np.ndarray
    address: np.ndarray
    postcode4: np.ndarray
    #: Boolean matrix sponsor x typology.
    typologies: np.ndarray
    abuse_from: np.ndarray
    abuse_until: np.ndarray
    #: Share of months a sponsor files payroll late, and its share of corrected months.
    late_share: np.ndarray
    correction_share: np.ndarray
    #: Probability the sponsor reports an end of employment at all / within 28 days.
    reports_end: np.ndarray
    reports_on_time: np.ndarray
    #: Index of the migrant founder among the sponsor's hires (-1: none).
    migrant_director: np.ndarray
    #: How much of its typologies' strength a sponsor's abuse shows (0..1): some abusers
    #: leave almost no trace.
    intensity: np.ndarray
    #: Predecessor (revoked sponsor) of a phoenix, -1 otherwise.
    predecessor: np.ndarray
    #: Shared officer pool membership (-1: none), for group companies and serial directors.
    officer_pool: np.ndarray

    @property
    def n(self) -> int:
        return self.sector.size

    def has(self, typology_name: str) -> np.ndarray:
        return self.typologies[:, TYPOLOGY_INDEX[typology_name]]

    def is_archetype(self, name: str) -> np.ndarray:
        return self.archetype == ARCHETYPE_INDEX[name]

    def sector_is(self, *names: str) -> np.ndarray:
        return np.isin(self.sector, [SECTOR_INDEX[x] for x in names])

    @property
    def is_abusive(self) -> np.ndarray:
        return self.typologies.any(axis=1)


def draw_population(n: int, start: int, end: int, rng: np.random.Generator) -> Population:
    """Draw ``n`` sponsors that are recognised at some point in [start, end]."""
    sector = rng.choice(len(SECTORS), size=n, p=[s.sponsor_share for s in SECTORS])
    archetype = _draw_archetypes(sector, rng)
    recognised = _draw_recognition(n, start, end, rng)
    pop = Population(
        start=start, end=end, sector=sector, archetype=archetype,
        legal_form=np.full(n, "BV", dtype=object),
        stock=np.zeros(n), locals_=np.zeros(n, dtype=np.int64),
        founded=np.zeros(n, dtype=np.int64), recognised=recognised,
        ended=np.full(n, NEVER, dtype=np.int64), end_reason=np.full(n, "", dtype=object),
        end_recorded=np.full(n, NEVER, dtype=np.int64),
        address=np.arange(n, dtype=np.int64), postcode4=np.zeros(n, dtype=np.int64),
        typologies=np.zeros((n, len(TYPOLOGIES)), dtype=bool),
        abuse_from=np.full(n, NEVER, dtype=np.int64),
        abuse_until=np.full(n, NEVER, dtype=np.int64),
        late_share=np.zeros(n), correction_share=np.zeros(n),
        reports_end=np.zeros(n), reports_on_time=np.zeros(n),
        migrant_director=np.full(n, -1, dtype=np.int64),
        intensity=rng.uniform(0.25, 1.0, n),
        predecessor=np.full(n, -1, dtype=np.int64),
        officer_pool=np.full(n, -1, dtype=np.int64),
    )
    _draw_size(pop, rng)
    _draw_founding(pop, rng)
    _draw_exits(pop, rng)
    _draw_abuse(pop, rng)
    _shape_shells(pop, rng)
    _draw_behaviour(pop, rng)
    _draw_legal_form_and_place(pop, rng)
    return pop


def _draw_archetypes(sector: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    archetype = np.zeros(sector.size, dtype=np.int64)
    u = rng.random(sector.size)
    for si, s in enumerate(SECTORS):
        in_sector = sector == si
        cumulative = 0.0
        for a in ARCHETYPES[1:]:
            p = a.sector_probability.get(s.name, 0.0)
            if p:
                pick = in_sector & (u >= cumulative) & (u < cumulative + p)
                archetype[pick] = ARCHETYPE_INDEX[a.name]
                cumulative += p
    return archetype


def _draw_recognition(n: int, start: int, end: int, rng: np.random.Generator) -> np.ndarray:
    """Recognition dates: a stock before the window, then growing numbers within it."""
    before = rng.random(n) < SHARE_RECOGNISED_BEFORE
    earliest = start - 11 * 365
    # Density rising toward the window on both sides (the register roughly doubled 2018-2024).
    early = earliest + (rng.beta(2.0, 1.0, n) * (start - earliest)).astype(np.int64)
    late = start + (rng.beta(1.3, 1.0, n) * (end - start - 30)).astype(np.int64)
    return np.where(before, early, late)


def _draw_size(pop: Population, rng: np.random.Generator) -> None:
    """Heavy-tailed number of migrants and the non-migrant staff around them."""
    sector_factor = np.array([s.size_factor for s in SECTORS])[pop.sector]
    archetype_factor = np.select(
        [pop.is_archetype("university"), pop.is_archetype("large_firm"),
         pop.is_archetype("it_consultancy"), pop.is_archetype("startup")],
        [4.0, 10.0, 2.5, 1.3], 1.0)
    pareto = rng.pareto(1.4, pop.n) + 1.0
    max_stock = np.array([s.max_stock for s in SECTORS])[pop.sector]
    pop.stock = np.minimum(0.6 * pareto * sector_factor * archetype_factor, max_stock)
    share = np.array([s.migrant_share for s in SECTORS])[pop.sector]
    share = np.clip(share * rng.lognormal(0.0, 0.45, pop.n), 0.02, 0.9)
    share = np.where(pop.is_archetype("it_consultancy"), rng.uniform(0.6, 0.95, pop.n), share)
    share = np.where(pop.is_archetype("university"), rng.uniform(0.12, 0.3, pop.n), share)
    branch = pop.is_archetype("branch_office")
    pop.stock[branch] = rng.choice([1.0, 1.0, 1.5, 2.0, 3.0, 4.0], int(branch.sum()))
    _hold_permit_shares(pop, fixed=branch)
    pop.locals_ = np.maximum(np.round(pop.stock * (1 - share) / share), 1).astype(np.int64)
    pop.locals_[branch] = (rng.random(int(branch.sum())) < 0.3).astype(np.int64)


def _hold_permit_shares(pop: Population, fixed: np.ndarray) -> None:
    """Scale the sizes of each sector's sponsors (all but ``fixed``) so the sector's expected
    share of the window's permits is its ``permit_share``: the public figure where the brief
    gives one. Without this, one large sponsor decides a small world's sector mix."""
    tenure = np.array([s.tenure_months for s in SECTORS])[pop.sector]
    tenure = np.where(pop.is_archetype("university"), 26.0, tenure)
    days = np.clip(pop.end - np.maximum(pop.recognised, pop.start), 0, None)
    hires = pop.stock / (tenure * 30.4) * days
    # Every sponsor recognised in the window comes with a first application (plan_hires).
    first = (pop.recognised >= pop.start).astype(float)
    k = len(SECTORS)
    scalable = np.bincount(pop.sector, weights=np.where(fixed, 0.0, hires), minlength=k)
    held = np.bincount(pop.sector, weights=np.where(fixed, hires, 0.0) + first, minlength=k)
    wanted = (np.array([s.permit_share for s in SECTORS]) * (hires.sum() + first.sum())
              - held)
    factor = np.where(scalable > 0, np.maximum(wanted, 0.05 * scalable)
                      / np.maximum(scalable, 1e-9), 1.0)
    pop.stock = np.where(fixed, pop.stock, np.minimum(pop.stock * factor[pop.sector], 3000.0))


def _draw_founding(pop: Population, rng: np.random.Generator) -> None:
    years = rng.lognormal(np.log(7.0), 0.9, pop.n)
    years = np.where(pop.is_archetype("startup"), rng.uniform(0.1, 2.0, pop.n), years)
    years = np.where(pop.is_archetype("university"), rng.uniform(20, 150, pop.n), years)
    years = np.where(pop.is_archetype("large_firm"), rng.uniform(10, 60, pop.n), years)
    years = np.where(pop.is_archetype("it_consultancy"), rng.lognormal(np.log(4), 0.7, pop.n),
                     years)
    years = np.where(pop.is_archetype("branch_office"), rng.uniform(0.1, 3.0, pop.n), years)
    pop.founded = pop.recognised - (years * 365.25).astype(np.int64)


def _draw_abuse(pop: Population, rng: np.random.Generator) -> None:
    """Who abuses what, from when and until when (overlapping typologies)."""
    sector_weight = np.array([s.abuse_weight for s in SECTORS])[pop.sector]
    archetype_factor = np.array([a.abuse_factor for a in ARCHETYPES])[pop.archetype]
    # Abuse concentrates in small employers; large ones abuse far less often.
    size_factor = np.clip(1.6 - 0.25 * np.log1p(pop.stock), 0.3, 1.6)
    base = sector_weight * archetype_factor * size_factor
    late = pop.recognised >= pop.start + 365
    for ti, t in enumerate(TYPOLOGIES):
        weight = base * np.array([t.sector_weights.get(s.name, 1.0) for s in SECTORS])[pop.sector]
        p = t.share * weight / weight.mean()
        if t.name == "phoenix":
            p = np.where(late, p / max(late.mean(), 1e-9), 0.0)
        pop.typologies[:, ti] = rng.random(pop.n) < p
    for a, b, chance in CO_OCCURRENCE:
        pop.typologies[:, TYPOLOGY_INDEX[b]] |= pop.has(a) & (rng.random(pop.n) < chance)
    carries = rng.choice(len(PHOENIX_CARRIES), size=pop.n, p=[w for _, w in PHOENIX_CARRIES])
    for ci, (name, _) in enumerate(PHOENIX_CARRIES):
        pop.typologies[:, TYPOLOGY_INDEX[name]] |= pop.has("phoenix") & (carries == ci)

    abusive = pop.is_abusive
    window_from = np.maximum(pop.recognised, pop.start - 2 * 365)
    # Abuse starts while the sponsor is recognised (bankrupt or withdrawn sponsors included).
    last_start = np.minimum(pop.end - 180, pop.ended - 60)
    span = np.maximum(last_start - window_from, 30)
    abuse_from = window_from + (rng.random(pop.n) ** 1.3 * span).astype(np.int64)
    from_recognition = (pop.has("shell") | pop.has("phoenix")
                        | (pop.has("paper_jobs") & (rng.random(pop.n) < 0.7)))
    abuse_from = np.where(from_recognition, np.maximum(pop.recognised, window_from), abuse_from)
    durations = np.array([t.duration_months for t in TYPOLOGIES]) * 30.4
    duration = (pop.typologies * durations).max(axis=1) * rng.lognormal(0.0, 0.5, pop.n)
    pop.abuse_from = np.where(abusive, abuse_from, NEVER)
    pop.abuse_until = np.where(abusive, abuse_from + duration.astype(np.int64), NEVER)


def _shape_shells(pop: Population, rng: np.random.Generator) -> None:
    """Shells: young, tiny, no staff beyond the migrants, a migrant as director."""
    shell = pop.has("shell")
    k = int(shell.sum())
    pop.archetype[shell] = ARCHETYPE_INDEX["ordinary"]
    pop.founded[shell] = pop.recognised[shell] - rng.integers(20, 400, k)
    pop.stock[shell] = rng.choice([1.0, 1.0, 1.5, 2.0, 3.0], k)
    pop.locals_[shell] = 0
    # Most shells put the migrant on the board; some use a front.
    pop.migrant_director[shell & (rng.random(pop.n) < 0.75)] = 0
    founder = (pop.is_archetype("startup") & (rng.random(pop.n) < 0.45)) | (
        pop.is_archetype("it_consultancy") & (pop.stock < 6) & (rng.random(pop.n) < 0.15))
    pop.migrant_director[founder] = 0
    # A few honest one-person companies of a migrant founder (freelance consultants).
    solo = (~pop.is_abusive & pop.sector_is("ict", "business_services") & (pop.stock < 2)
            & (rng.random(pop.n) < 0.12))
    pop.locals_[solo] = rng.integers(0, 2, int(solo.sum()))
    pop.migrant_director[solo] = 0


def _draw_behaviour(pop: Population, rng: np.random.Generator) -> None:
    """Filing discipline: late and corrected payroll, and how ends get reported."""
    large = pop.is_archetype("large_firm") | (pop.stock > 40)
    pop.late_share = np.where(large, rng.uniform(0.1, 0.35, pop.n), rng.beta(0.6, 12, pop.n))
    pop.correction_share = np.where(large, rng.uniform(0.06, 0.2, pop.n),
                                    rng.beta(0.6, 30, pop.n))
    pop.reports_end = rng.uniform(0.9, 1.0, pop.n)
    pop.reports_on_time = rng.beta(12, 1.5, pop.n)
    failing = pop.has("notification_failure")
    pop.reports_end = np.where(failing, rng.uniform(0.15, 0.6, pop.n), pop.reports_end)
    pop.reports_on_time = np.where(failing, rng.uniform(0.1, 0.5, pop.n), pop.reports_on_time)
    # Some honest sponsors are just sloppy reporters (but report in the end).
    sloppy = ~failing & (rng.random(pop.n) < 0.06)
    pop.reports_on_time = np.where(sloppy, rng.uniform(0.3, 0.7, pop.n), pop.reports_on_time)


def _draw_legal_form_and_place(pop: Population, rng: np.random.Generator) -> None:
    forms = np.array(["BV", "NV", "VOF", "EENMANSZAAK", "STICHTING", "FOREIGN_ENTITY",
                      "COOPERATIE", "CV", "VERENIGING", "OTHER"], dtype=object)
    p = np.array([0.82, 0.02, 0.03, 0.03, 0.02, 0.06, 0.005, 0.005, 0.005, 0.005])
    pop.legal_form = forms[rng.choice(forms.size, size=pop.n, p=p / p.sum())]
    pop.legal_form[pop.is_archetype("university")] = "STICHTING"
    pop.legal_form[pop.is_archetype("large_firm") & (rng.random(pop.n) < 0.4)] = "NV"
    branch = pop.is_archetype("branch_office")
    pop.legal_form[branch] = np.where(rng.random(int(branch.sum())) < 0.8, "FOREIGN_ENTITY",
                                      "BV")
    pop.legal_form[pop.has("shell")] = "BV"
    # Postcode areas: denser in the Randstad (1000-3999) and Eindhoven (5600s).
    region = rng.choice(4, size=pop.n, p=[0.35, 0.3, 0.2, 0.15])
    lo = np.array([1000, 2000, 3000, 5000])[region]
    hi = np.array([1999, 2999, 3999, 9999])[region]
    pop.postcode4 = rng.integers(lo, hi + 1)
    # Business centres: one address for many small sponsors (shells and mills more often).
    n_centres = max(pop.n // 120, 3)
    p_centre = np.where(pop.has("shell"), 0.45, np.where(pop.has("paper_jobs"), 0.3,
                                                         np.where(pop.stock < 4, 0.12, 0.03)))
    at_centre = rng.random(pop.n) < p_centre
    # Honest tenants crowd into a few big virtual-office addresses (Zipf sizes); shells and
    # mills pick any centre, so the busiest addresses are mostly honest.
    centre = np.where(pop.has("shell") | pop.has("paper_jobs"),
                      rng.integers(0, n_centres, pop.n), _zipf_choice(n_centres, pop.n, rng))
    pop.address = np.where(at_centre, pop.n + centre, pop.address)
    centre_postcode = rng.integers(1000, 3999, n_centres)
    pop.postcode4 = np.where(at_centre, centre_postcode[centre], pop.postcode4)
    # Group companies, trust offices and serial directors share officers, so an officer
    # shared with a revoked sponsor is common among honest sponsors too.
    n_pools = max(pop.n // 150, 3)
    # Shells and mills often use a nominee director who sits on many boards.
    p_pool = np.select([pop.is_archetype("large_firm"), pop.legal_form == "FOREIGN_ENTITY",
                        pop.has("shell") | pop.has("paper_jobs"), pop.stock < 4],
                       [0.4, 0.5, 0.3, 0.12], 0.05)
    in_pool = rng.random(pop.n) < p_pool
    pop.officer_pool = np.where(in_pool, _zipf_choice(n_pools, pop.n, rng), -1)


def _zipf_choice(k: int, size: int, rng: np.random.Generator, exponent: float = 1.1
                 ) -> np.ndarray:
    """``size`` draws from 0..k-1 with probability falling as 1/(rank+1)^exponent."""
    weights = 1.0 / np.arange(1, k + 1) ** exponent
    return rng.choice(k, size=size, p=weights / weights.sum())


def _draw_exits(pop: Population, rng: np.random.Generator) -> None:
    """Ends of recognition other than revocation (bankruptcy, withdrawal)."""
    rate = np.array([s.exit_rate for s in SECTORS])[pop.sector]
    rate = rate * np.select([pop.is_archetype("startup"), pop.is_archetype("university"),
                             pop.is_archetype("large_firm")], [2.0, 0.05, 0.4], 1.0)
    rate = rate * np.where(pop.sector_is("restaurants", "hair_beauty"), 1.6, 1.0)
    at_risk_from = np.maximum(pop.recognised, pop.start)
    exit_day = at_risk_from + (rng.exponential(1.0 / rate) * 365.25).astype(np.int64)
    exits = exit_day <= pop.end
    reason = rng.choice(np.array(["BANKRUPT", "WITHDRAWN_BY_SPONSOR", "OTHER"], dtype=object),
                        size=pop.n, p=[0.4, 0.5, 0.1])
    pop.ended = np.where(exits, exit_day, NEVER)
    pop.end_reason = np.where(exits, reason, "")
    # The IND learns of a bankruptcy or a withdrawal days to weeks after it takes effect.
    pop.end_recorded = np.where(exits, exit_day + delays(rng, pop.n, median=12, cap=70), NEVER)


def year_starts(start: int, end: int) -> np.ndarray:
    """First day of every hiring year, from the history before the window to the last year."""
    first = int(year_of_day(np.array([start]))[0]) - HISTORY_YEARS
    last = int(year_of_day(np.array([end]))[0])
    return first_day_of_year(np.arange(first, last + 2))
