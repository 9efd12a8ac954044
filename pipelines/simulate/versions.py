"""Knowledge time (contract version 2): the versions in which sponsors, their officers and
inspection outcomes are recorded, each with the day it was recorded (``recorded_on``).

- Sponsors: a first version a few days to weeks after recognition; a new version on the
  day a sponsor moves, changes its SBI code or its name; the end of recognition recorded
  weeks after it took effect, a retroactive revocation months after (the world decides
  those days: ``Population.end_recorded``).
- Officers: an appointment registered days to weeks after it took effect; a resignation is
  a later version that carries ``to_date``, registered days to weeks after it.
- Inspections: an OPEN version when opened; the closing version on or soon after the
  closing day; some fines are objected to or appealed, and a later version changes the
  outcome (VIOLATION to NO_VIOLATION) or the fine.

A version recorded after the world's last day is not in the extract: on that day it was not
known yet (an inspection closed days before then is still OPEN in the extract).

These draws come from their own random stream, so recording never changes the world itself.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl

from pipelines.simulate import names
from pipelines.simulate.calendar import NEVER, date_series, delays
from pipelines.simulate.population import Population
from pipelines.simulate.typologies import SECTORS

#: Yearly rates of a new sponsor version: a move (new address), a new main activity within
#: the sector (SBI code), a new trade name.
MOVE_RATE = 0.04
SBI_CHANGE_RATE = 0.012
RENAME_RATE = 0.015
#: Share of fines objected to or appealed with success, and the share of those where the
#: violation itself is annulled (the others get the fine lowered or turned into a warning).
APPEAL_SHARE = 0.2
ANNULLED_SHARE = 0.4
#: Days from the closing version to the decision on objection or appeal.
APPEAL_DAYS = (30, 300)

_KEY = "_sponsor"
_ORDER = "_order"


def sponsor_versions(pop: Population, first: pl.DataFrame, rng: np.random.Generator,
                     rename: Callable[[np.ndarray], pl.Series], address_salt: int
                     ) -> pl.DataFrame:
    """Versions of every sponsor's record from ``first`` (one row per sponsor in population
    order, as recognised: no end of recognition yet).

    Args:
        rename: new trade names for the sponsors at the given population indices.
        address_salt: the salt of the address pseudonyms (new addresses get new keys).
    """
    n = pop.n
    # Entered at the IND days to weeks after the recognition (never after the last day).
    recorded = np.minimum(pop.recognised + delays(rng, n, median=6, cap=35, same_day=0.2),
                          pop.end)
    # Changes fall after the first version and before the recognition ends.
    last = np.minimum(pop.ended, pop.end + 1)
    room = np.clip(last - recorded - 1, 0, None)
    # A phoenix tied to its predecessor by address, and that predecessor, stay put.
    linked = np.zeros(n, dtype=bool)
    tied = np.flatnonzero(pop.predecessor >= 0)
    linked[tied] = True
    linked[pop.predecessor[tied]] = True

    def changes(rate: float, allowed: np.ndarray, most: int = 3
                ) -> tuple[np.ndarray, np.ndarray]:
        count = np.where(allowed, np.minimum(rng.poisson(rate * room / 365.25), most), 0)
        owner = np.repeat(np.arange(n), count)
        day = recorded[owner] + 1 + (rng.random(owner.size) * room[owner]).astype(np.int64)
        return owner, np.minimum(day, last[owner] - 1)

    base = first.with_columns(pl.Series(_KEY, np.arange(n)), pl.lit(0).alias(_ORDER),
                              date_series("recorded_on", recorded, None))
    owner, day = changes(MOVE_RATE, ~linked)
    region = rng.choice(4, size=owner.size, p=[0.35, 0.3, 0.2, 0.15])
    postcode = rng.integers(np.array([1000, 2000, 3000, 5000])[region],
                            np.array([1999, 2999, 3999, 9999])[region] + 1)
    # New addresses get pseudonyms beyond any address of the population's draw.
    fresh = 4 * n + np.arange(owner.size, dtype=np.int64)
    moves = _event(owner, day, 1, postcode4=pl.Series(postcode).cast(pl.String),
                   address_key=names.pseudonyms("AD", fresh, 9, address_salt))
    # One change of activity at most (away from the code first recorded).
    owner, day = changes(SBI_CHANGE_RATE, np.ones(n, dtype=bool), most=1)
    current = first["sbi_code"].to_numpy()[owner]
    sbi_codes = _other_code(pop.sector[owner], current, rng)
    sbi = _event(owner, day, 2, sbi_code=pl.Series(sbi_codes, dtype=pl.String))
    owner, day = changes(RENAME_RATE, np.ones(n, dtype=bool))
    renamed = _event(owner, day, 3, name=rename(owner))
    ended = np.flatnonzero(pop.end_recorded <= pop.end)
    ends = _event(ended, np.maximum(pop.end_recorded[ended], recorded[ended] + 1), 4,
                  recognition_ended_on=date_series("e", pop.ended[ended], None),
                  recognition_end_reason=pl.Series(pop.end_reason[ended].astype(str),
                                                   dtype=pl.String))
    columns = first.columns
    events = pl.concat([base, moves, sbi, renamed, ends], how="diagonal_relaxed")
    carried = [c for c in columns if c not in ("recognition_ended_on",
                                               "recognition_end_reason")]
    # Two moves on one day keep the order they were drawn in (the same bytes every run).
    return (events.sort(_KEY, "recorded_on", _ORDER, maintain_order=True)
            .with_columns(pl.col(carried).forward_fill().over(_KEY))
            # Changes on the same day make one version.
            .unique([_KEY, "recorded_on"], keep="last", maintain_order=True)
            .filter(pl.col("recorded_on") <= pl.lit(pop.end).cast(pl.Date))
            .select(*columns, "recorded_on"))


def _event(owner: np.ndarray, day: np.ndarray, order: int, **values: pl.Series) -> pl.DataFrame:
    return pl.DataFrame({_KEY: owner, _ORDER: np.full(owner.size, order),
                         "recorded_on": date_series("recorded_on", day, None), **values})


def _other_code(sector: np.ndarray, current: np.ndarray, rng: np.random.Generator
                ) -> np.ndarray:
    """Another SBI code of the same sector (the sector, and so its risk, stays)."""
    out = current.astype(object).copy()
    for si, s in enumerate(SECTORS):
        idx = np.flatnonzero(sector == si)
        codes = np.array(s.sbi_codes, dtype=object)
        position = np.array([s.sbi_codes.index(c) for c in current[idx]], dtype=np.int64)
        # One of the other codes: draw among size - 1 and step over the current one.
        pick = rng.integers(0, codes.size - 1, idx.size)
        out[idx] = codes[pick + (pick >= position)]
    return out.astype(str)


def officer_versions(officers: pl.DataFrame, last_day: int, rng: np.random.Generator
                     ) -> pl.DataFrame:
    """Versions of the officers (one row per appointment, ``to_date`` where it ended)."""
    start = officers["from_date"].cast(pl.Int64).to_numpy()
    stop = officers["to_date"].cast(pl.Int64).fill_null(NEVER).to_numpy()
    n = officers.height
    appointed = start + delays(rng, n, median=18, cap=120, same_day=0.3)
    left = np.where(stop < NEVER, stop + delays(rng, n, median=10, cap=60, same_day=0.1),
                    NEVER)
    # Registered together where the resignation was known by the time of the appointment.
    at_once = left <= appointed
    first = officers.with_columns(
        pl.when(pl.Series(at_once)).then(pl.col("to_date")).otherwise(None).alias("to_date"),
        date_series("recorded_on", appointed, None))
    later = officers.filter(pl.Series((stop < NEVER) & ~at_once)).with_columns(
        date_series("recorded_on", left[(stop < NEVER) & ~at_once], None))
    return (pl.concat([first, later])
            .filter(pl.col("recorded_on") <= pl.lit(last_day).cast(pl.Date))
            .sort("sponsor_id", "from_date", "role", "officer_key", "recorded_on"))


def inspection_versions(inspections: pl.DataFrame, revoked: np.ndarray, last_day: int,
                        rng: np.random.Generator) -> pl.DataFrame:
    """Versions of the inspections (one row per inspection as finally closed, or OPEN).

    ``revoked`` marks the inspections that led to a revocation: their violation stands on
    appeal (the fine may still change)."""
    n = inspections.height
    unclosed = {"closed_on": pl.lit(None, pl.Date), "outcome": pl.lit("OPEN"),
                "findings": pl.lit(None, pl.List(pl.String)), "fine_eur": pl.lit(None, pl.Float64)}
    opened = inspections.with_columns(**unclosed, recorded_on=pl.col("opened_on"))
    closed_day = inspections["closed_on"].cast(pl.Int64).fill_null(NEVER).to_numpy()
    recorded = np.where(closed_day < NEVER,
                        closed_day + delays(rng, n, median=3, cap=14, same_day=0.6), NEVER)
    known = recorded <= last_day
    closing = inspections.with_columns(date_series("recorded_on", recorded, None)).filter(
        pl.Series(known))
    fine = inspections["fine_eur"].fill_null(0.0).to_numpy()
    appealed = (known & (inspections["outcome"] == "VIOLATION").to_numpy() & (fine > 0)
                & (rng.random(n) < APPEAL_SHARE))
    decided = recorded + rng.integers(*APPEAL_DAYS, n)
    annulled = appealed & ~revoked & (rng.random(n) < ANNULLED_SHARE)
    new_fine = np.round(fine * rng.choice(np.array([0.5, 0.5, 0.0]), n), 2)
    appealed &= decided <= last_day
    appeal = inspections.with_columns(
        date_series("recorded_on", decided, None),
        pl.Series("fine_eur", new_fine)).filter(pl.Series(appealed))
    annul = pl.Series(annulled[appealed])
    appeal = appeal.with_columns(
        pl.when(annul).then(pl.lit("NO_VIOLATION")).otherwise(pl.col("outcome")).alias(
            "outcome"),
        pl.when(annul).then(None).otherwise(pl.col("findings")).alias("findings"),
        pl.when(annul).then(None).otherwise(pl.col("fine_eur")).alias("fine_eur"))
    return pl.concat([opened, closing, appeal]).sort("inspection_id", "recorded_on")
