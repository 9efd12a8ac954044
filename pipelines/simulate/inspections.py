"""Inspections: a biased label process, and the revocations that follow violations.

Every year the inspectorate opens a small RANDOM slice, a RISK_BASED selection made by
a crude earlier rule (small, young, restaurants and hair salons, many permits) sharpened by
inspectors' own knowledge, and TIP inspections that mostly concern real abuse. An inspection
finds abuse that is running with the typology's detection probability, sometimes finds a
minor breach at a clean sponsor, and sometimes ends inconclusive or is still open at the
end of the window. Found abuse can lead to revocation, which ends the recognition and
stops the sponsor's hiring.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipelines.simulate.calendar import NEVER
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
        for selection, pick in (("RANDOM", random_pick), ("RISK_BASED", risk_pick),
                                ("TIP", tip_pick)):
            idx = np.flatnonzero(pick)
            if idx.size:
                parts.append(_inspect(pop, idx, selection, ys, ye, fines_so_far, hires,
                                      year_starts, rng))
    return _concat(parts)


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
    _stop_hiring(hires, year_starts, sponsors, day, rng)
    return {"sponsor": idx, "opened": opened, "closed": np.where(still_open, NEVER, closed),
            "selection": np.full(idx.size, selection, dtype=object), "outcome": outcome,
            "findings": findings, "fine": fine}


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
                                 np.zeros(0, dtype=object), [], np.zeros(0))
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
        fine=np.concatenate([p["fine"] for p in parts]))  # type: ignore[misc]


def link_phoenixes(pop: Population, rng: np.random.Generator) -> np.ndarray:
    """Tie each phoenix to a sponsor revoked before it was recognised (officer or address).

    Returns a boolean per sponsor: the phoenix shares an officer with its predecessor.
    Phoenixes recognised before any revocation lose the typology (they keep the abuse they
    carry).
    """
    from pipelines.simulate.population import TYPOLOGY_INDEX

    col = TYPOLOGY_INDEX["phoenix"]
    revoked = np.flatnonzero(pop.end_reason == "REVOKED")
    revoked = revoked[np.argsort(pop.ended[revoked], kind="stable")]
    revoked_days = pop.ended[revoked]
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
