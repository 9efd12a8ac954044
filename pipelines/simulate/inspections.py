"""Inspections: a biased label process, and the revocations that follow violations.

Every year the inspectorate opens a small RANDOM slice, a RISK_BASED selection made by
a crude earlier rule (small, young, restaurants and hair salons, many permits) sharpened by
inspectors' own knowledge, and TIP inspections that mostly concern real abuse. An inspection
finds abuse that is running with the typology's detection probability, sometimes finds a
minor breach at a clean sponsor, and sometimes ends inconclusive or is still open at the
end of the window. Found abuse can lead to revocation, which ends the recognition and
stops the sponsor's hiring (and its abuse); a share of the abusers found and not revoked
stop abusing soon after. RANDOM and RISK_BASED inspections come from a yearly plan
(``PLAN-<year>``) whose design is known: the random slice's share of the active sponsors,
and certainty for the risk-based picks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipelines.simulate.calendar import NEVER, delays, year_of_day
from pipelines.simulate.population import SECTOR_INDEX, Population
from pipelines.simulate.typologies import TYPOLOGIES

#: Share of active sponsors inspected at random each year.
RANDOM_RATE = 0.02
#: Share of active sponsors selected on risk each year.
RISK_RATE = 0.025
#: Yearly chance of a tip while abusing, and of a false tip otherwise.
TIP_ABUSIVE = 0.05
TIP_CLEAN = 0.002
#: A clean sponsor still gets a minor finding (administration, a late notice) this often.
MINOR_BREACH = 0.07
INCONCLUSIVE = 0.05
#: Weight of the inspectors' own knowledge next to the crude rule (0 = rule only).
INSPECTOR_INTEL = 1.6
FINE_PER_FINDING = 3000.0
#: Share of abusers found (and not revoked) who stop abusing within STOP_WITHIN_DAYS.
STOP_AFTER_FOUND = 0.4
STOP_WITHIN_DAYS = 120
#: Share of revocations decided months after the day they take effect (retroactive), and
#: how many days later; the others are recorded weeks after their effect.
RETROACTIVE_SHARE = 0.25
RETROACTIVE_DAYS = (60, 270)
#: Sectors the crude rule singles out.
CRUDE_RULE_SECTORS = ("restaurants", "hair_beauty")


def crude_rule_score(headcount: np.ndarray, company_age_years: np.ndarray,
                     in_flagged_sector: np.ndarray, permits_last_year: np.ndarray) -> np.ndarray:
    """The earlier selection rule: one point each for small (10 or fewer employees), young
    (under 3 years), a restaurant or hair salon, and 3 or more permits in the last year."""
    return ((headcount <= 10).astype(float) + (company_age_years < 3).astype(float)
            + in_flagged_sector.astype(float) + (permits_last_year >= 3).astype(float))


@dataclass
class InspectionRecords:
    sponsor: np.ndarray
    opened: np.ndarray
    closed: np.ndarray  # NEVER while open
    selection: np.ndarray  # object
    outcome: np.ndarray  # object
    findings: list[list[str] | None]
    fine: np.ndarray  # nan where none
    plan_id: np.ndarray  # object: the plan that chose the sponsor, None for TIP
    inclusion_probability: np.ndarray  # nan where no plan chose the sponsor
    #: The inspection led to the revocation (or suspension) of the recognition.
    revoked: np.ndarray


def run_inspections(pop: Population, hires: np.ndarray, year_starts: np.ndarray,
                    rng: np.random.Generator) -> InspectionRecords:
    """Simulate the inspections year by year; revocations update ``pop`` and ``hires``."""
    parts: list[dict[str, object]] = []
    fines_so_far = np.zeros(pop.n, dtype=np.int64)
    headcount = pop.stock + pop.locals_
    flagged_sector = np.isin(pop.sector, [SECTOR_INDEX[s] for s in CRUDE_RULE_SECTORS])
    for j in range(year_starts.size - 1):
        ys, ye = int(year_starts[j]), int(year_starts[j + 1]) - 1
        if ye < pop.start or ys > pop.end:
            continue
        ye = min(ye, pop.end)
        active = (pop.recognised <= ye - 30) & (pop.ended > ys + 30)
        abusing = (pop.abuse_from <= ye) & (pop.abuse_until > ys)
        random_pick = active & (rng.random(pop.n) < RANDOM_RATE)
        score = crude_rule_score(headcount, (ys - pop.founded) / 365.25, flagged_sector,
                                 hires[:, j - 1] if j > 0 else hires[:, 0])
        score = score + rng.normal(0.0, 0.8, pop.n) + INSPECTOR_INTEL * abusing * rng.random(
            pop.n)
        k = int(round(RISK_RATE * active.sum()))
        candidates = np.flatnonzero(active & ~random_pick)
        chosen = candidates[np.argsort(-score[candidates], kind="stable")[:k]]
        risk_pick = np.zeros(pop.n, dtype=bool)
        risk_pick[chosen] = True
        tip_pick = active & (rng.random(pop.n) < np.where(abusing, TIP_ABUSIVE, TIP_CLEAN))
        plan = f"PLAN-{year_of_day(np.array([ys]))[0]}"
        # The plan's design: the random slice is a share of the active sponsors drawn at
        # random; risk-based picks are taken with certainty.
        random_share = random_pick.sum() / max(int(active.sum()), 1)
        for selection, pick, plan_id, inclusion in (
                ("RANDOM", random_pick, plan, random_share),
                ("RISK_BASED", risk_pick, plan, 1.0), ("TIP", tip_pick, None, np.nan)):
            idx = np.flatnonzero(pick)
            if idx.size:
                part = _inspect(pop, idx, selection, ys, ye, fines_so_far, hires,
                                year_starts, rng)
                part["plan_id"] = np.full(idx.size, plan_id, dtype=object)
                part["inclusion_probability"] = np.full(idx.size, inclusion, dtype=float)
                parts.append(part)
    _end_abuse_with_recognition(pop)
    return _concat(parts)


def _end_abuse_with_recognition(pop: Population) -> None:
    """Abuse through a sponsor stops when its recognition ends (revoked, bankrupt,
    withdrawn); a sponsor revoked before its abuse began never abused."""
    abusive = pop.is_abusive
    pop.abuse_until = np.where(abusive, np.minimum(pop.abuse_until, pop.ended),
                               pop.abuse_until)
    never = abusive & (pop.abuse_until <= pop.abuse_from)
    pop.typologies[never] = False
    pop.abuse_from[never] = NEVER
    pop.abuse_until[never] = NEVER


def _inspect(pop: Population, idx: np.ndarray, selection: str, ys: int, ye: int,
             fines_so_far: np.ndarray, hires: np.ndarray, year_starts: np.ndarray,
             rng: np.random.Generator) -> dict[str, object]:
    lo = np.maximum(ys, pop.recognised[idx])
    hi = np.maximum(np.minimum(ye, pop.ended[idx] - 1), lo)
    opened = lo + (rng.random(idx.size) * (hi - lo + 1)).astype(np.int64)
    opened = np.minimum(opened, hi)
    closed = opened + 14 + rng.gamma(2.0, 45.0, idx.size).astype(np.int64)
    running = (pop.abuse_from[idx] <= opened) & (pop.abuse_until[idx] > opened)
    found = np.zeros((idx.size, len(TYPOLOGIES)), dtype=bool)
    for ti, t in enumerate(TYPOLOGIES):
        found[:, ti] = running & pop.typologies[idx, ti] & (rng.random(idx.size) < t.detection)
    real = found.any(axis=1)
    minor = ~real & (rng.random(idx.size) < MINOR_BREACH)
    inconclusive = ~real & ~minor & (
        rng.random(idx.size) < np.where(running, 3 * INCONCLUSIVE, INCONCLUSIVE))
    still_open = closed > pop.end
    outcome = np.where(real | minor, "VIOLATION",
                       np.where(inconclusive, "INCONCLUSIVE", "NO_VIOLATION")).astype(object)
    findings: list[list[str] | None] = []
    minor_kind = rng.choice(np.array(["ADMINISTRATION_FAILURE", "NOTIFICATION_FAILURE"]),
                            size=idx.size, p=[0.6, 0.4])
    for r in range(idx.size):
        if still_open[r] or outcome[r] != "VIOLATION":
            findings.append(None)
        elif real[r]:
            kinds = [t.finding for ti, t in enumerate(TYPOLOGIES) if found[r, ti]]
            findings.append(sorted(set(kinds)))
        else:
            findings.append([str(minor_kind[r])])
    n_findings = np.array([len(f) if f else 0 for f in findings])
    warning = rng.random(idx.size) < np.where(real, 0.2, 0.6)
    repeat = fines_so_far[idx] > 0
    fine = np.where(outcome == "VIOLATION",
                    np.where(warning & ~repeat, 0.0,
                             FINE_PER_FINDING * n_findings * np.where(repeat, 1.5, 1.0)
                             * np.where(real, rng.choice([1.0, 2.0, 4.0], idx.size), 0.5)),
                    np.nan)
    outcome = np.where(still_open, "OPEN", outcome)
    fine = np.where(still_open, np.nan, fine)
    fined = (outcome == "VIOLATION") & (fine > 0)
    fines_so_far[idx] += fined

    revoke_p = np.where(found, np.array([t.revocation for t in TYPOLOGIES])[None, :], 0.0).max(
        axis=1)
    revoke_p = np.where(fines_so_far[idx] >= 3, 1.0, revoke_p)
    revoke = (outcome == "VIOLATION") & (rng.random(idx.size) < revoke_p)
    revoked_on = closed + rng.integers(14, 120, idx.size)
    revoke &= (revoked_on <= pop.end) & (revoked_on < pop.ended[idx])
    sponsors = idx[revoke]
    day = revoked_on[revoke]
    pop.ended[sponsors] = day
    reason = np.where(rng.random(sponsors.size) < 0.9, "REVOKED", "SUSPENDED")
    pop.end_reason[sponsors] = reason
    retroactive = rng.random(sponsors.size) < RETROACTIVE_SHARE
    pop.end_recorded[sponsors] = day + np.where(
        retroactive, rng.integers(*RETROACTIVE_DAYS, sponsors.size),
        delays(rng, sponsors.size, median=21, cap=56, spread=0.5))
    _stop_hiring(hires, year_starts, sponsors, day, rng)
    # Some of those found and left recognised stop abusing soon after.
    stops = real & ~revoke & ~still_open & (rng.random(idx.size) < STOP_AFTER_FOUND)
    stop_day = closed + rng.integers(0, STOP_WITHIN_DAYS, idx.size)
    pop.abuse_until[idx[stops]] = np.minimum(pop.abuse_until[idx[stops]], stop_day[stops])
    return {"sponsor": idx, "opened": opened, "closed": np.where(still_open, NEVER, closed),
            "selection": np.full(idx.size, selection, dtype=object), "outcome": outcome,
            "findings": findings, "fine": fine, "revoked": revoke}


def _stop_hiring(hires: np.ndarray, year_starts: np.ndarray, sponsors: np.ndarray,
                 day: np.ndarray, rng: np.random.Generator) -> None:
    """No applications after the recognition ended (those in its year are thinned)."""
    for s, d in zip(sponsors.tolist(), day.tolist(), strict=True):
        j = int(np.searchsorted(year_starts, d, side="right") - 1)
        if 0 <= j < hires.shape[1]:
            length = year_starts[j + 1] - year_starts[j]
            keep = (d - year_starts[j]) / length
            hires[s, j] = rng.binomial(hires[s, j], keep)
            hires[s, j + 1:] = 0


def _concat(parts: list[dict[str, object]]) -> InspectionRecords:
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return InspectionRecords(empty, empty, empty, np.zeros(0, dtype=object),
                                 np.zeros(0, dtype=object), [], np.zeros(0),
                                 np.zeros(0, dtype=object), np.zeros(0),
                                 np.zeros(0, dtype=bool))
    findings: list[list[str] | None] = []
    for p in parts:
        findings.extend(p["findings"])  # type: ignore[arg-type]
    return InspectionRecords(
        sponsor=np.concatenate([p["sponsor"] for p in parts]),  # type: ignore[misc]
        opened=np.concatenate([p["opened"] for p in parts]),  # type: ignore[misc]
        closed=np.concatenate([p["closed"] for p in parts]),  # type: ignore[misc]
        selection=np.concatenate([p["selection"] for p in parts]),  # type: ignore[misc]
        outcome=np.concatenate([p["outcome"] for p in parts]),  # type: ignore[misc]
        findings=findings,
        fine=np.concatenate([p["fine"] for p in parts]),  # type: ignore[misc]
        plan_id=np.concatenate([p["plan_id"] for p in parts]),  # type: ignore[misc]
        inclusion_probability=np.concatenate(
            [p["inclusion_probability"] for p in parts]),  # type: ignore[misc]
        revoked=np.concatenate([p["revoked"] for p in parts]))  # type: ignore[misc]


def link_phoenixes(pop: Population, rng: np.random.Generator) -> np.ndarray:
    """Tie each phoenix to a sponsor revoked (and the revocation recorded) before it was
    recognised (officer or address).

    Returns a boolean per sponsor: the phoenix shares an officer with its predecessor.
    Phoenixes recognised before any revocation lose the typology (they keep the abuse they
    carry).
    """
    from pipelines.simulate.population import TYPOLOGY_INDEX

    col = TYPOLOGY_INDEX["phoenix"]
    # A phoenix rises once the revocation is decided (recorded), whatever day it took effect.
    revoked = np.flatnonzero(pop.end_reason == "REVOKED")
    revoked = revoked[np.argsort(pop.end_recorded[revoked], kind="stable")]
    revoked_days = pop.end_recorded[revoked]
    phoenix = np.flatnonzero(pop.typologies[:, col])
    available = np.searchsorted(revoked_days, pop.recognised[phoenix] - 30, side="right")
    linked = available > 0
    pop.typologies[phoenix[~linked], col] = False
    phoenix, available = phoenix[linked], available[linked]
    pred = revoked[(rng.random(phoenix.size) * available).astype(np.int64)]
    pop.predecessor[phoenix] = pred
    shares_officer = np.zeros(pop.n, dtype=bool)
    by_officer = rng.random(phoenix.size) < 0.7
    # Where the predecessor's board came from a nominee pool, the phoenix takes the same
    # nominee (so it shares officers with many honest sponsors as well); otherwise it takes
    # the predecessor's first director.
    via_pool = by_officer & (pop.officer_pool[pred] >= 0)
    pop.officer_pool[phoenix[via_pool]] = pop.officer_pool[pred[via_pool]]
    shares_officer[phoenix[by_officer & ~via_pool]] = True
    by_address = ~by_officer | (rng.random(phoenix.size) < 0.4)
    # A phoenix of a phoenix takes the address its predecessor ends up with: repeat until
    # the chains settle (they are short).
    for _ in range(phoenix.size):
        before = pop.address[phoenix[by_address]].copy()
        pop.address[phoenix[by_address]] = pop.address[pred[by_address]]
        pop.postcode4[phoenix[by_address]] = pop.postcode4[pred[by_address]]
        if np.array_equal(before, pop.address[phoenix[by_address]]):
            break
    return shares_officer
