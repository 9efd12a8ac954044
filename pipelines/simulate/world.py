"""The sponsor world: draw it, turn it into the contract tables, write it atomically.

Order of the draw: sponsors and who abuses what; hiring planned per sponsor and year;
inspections year by year (revocations end recognitions, hiring and abuse); phoenixes tied
to revoked predecessors; then, per chunk of sponsors, the employments with their permits,
payroll, workforce totals and notifications. Sponsors, officers and inspections are
written as the versions in which they were recorded (contract version 2, see
``versions``). Each chunk has its own random stream, so the world depends only on the seed
and its size, never on the machine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from pipelines.simulate import names
from pipelines.simulate.calendar import NEVER, date_series, day_of, first_day
from pipelines.simulate.inspections import link_phoenixes, run_inspections
from pipelines.simulate.migrants import SCHEMES, Employments, draw_employments, plan_hires
from pipelines.simulate.notifications import build_notifications
from pipelines.simulate.payroll import build_payroll
from pipelines.simulate.population import Population, draw_population, year_starts
from pipelines.simulate.thresholds import Thresholds
from pipelines.simulate.typologies import ARCHETYPE_NAMES, ARCHETYPES, SECTORS, TYPOLOGY_NAMES
from pipelines.simulate.versions import inspection_versions, officer_versions, sponsor_versions
from sponsorwatch.contract import TABLES, TRUTH
from sponsorwatch.thresholds import load_thresholds

DEFAULT_START = date(2019, 1, 1)
DEFAULT_END = date(2025, 12, 31)
#: Sponsors per chunk. Fixed (not tuned to the machine) so a seed gives the same world.
CHUNK_SPONSORS = 10_000
#: Tables written as a folder of Parquet parts, one per chunk.
CHUNKED_TABLES = ("payroll", "workforce")

Step = Callable[[str, int, int], None]


@dataclass
class World:
    """Tables of a simulated world, plus what only the simulator knows."""

    tables: dict[str, pl.DataFrame]
    #: sponsor_id, sector, archetype, hard_negative: for tests and the calibration report.
    profile: pl.DataFrame


def _no_step(_label: str, _done: int, _total: int) -> None:
    return None


def generate_world(n_sponsors: int, seed: int, start: date = DEFAULT_START,
                   end: date = DEFAULT_END, *, thresholds: pl.DataFrame | None = None,
                   register: Path | None = None,
                   on_chunk: Callable[[str, int, pl.DataFrame], None] | None = None,
                   step: Step = _no_step) -> World:
    """Draw a world of ``n_sponsors`` sponsors over [start, end] from ``seed``.

    Args:
        on_chunk: receives (table, chunk number, frame) for the chunked tables; when given,
            those tables are not kept in memory (``World.tables`` lacks them).
        step: progress callback (label, done, total).
        register: public register whose names and KvK numbers must not be used; the
            one found by ``names.default_register_path()`` when None.

    Raises:
        ValueError: when the window or the size makes no sense.
    """
    if n_sponsors < 1:
        raise ValueError(f"n_sponsors must be at least 1, got {n_sponsors}")
    if end <= start:
        raise ValueError(f"end {end} must be after start {start}")
    table = thresholds if thresholds is not None else load_thresholds()
    lookup = Thresholds(table)
    streams = np.random.SeedSequence(seed).spawn(9)
    rng_pop, rng_hire, rng_insp, rng_names, rng_off, rng_keys = (
        np.random.default_rng(s) for s in streams[:6])
    chunk_seeds = streams[6]
    # Knowledge time (versions and the days they were recorded) has a stream of its own.
    rng_versions = np.random.default_rng(streams[8])
    s_day, e_day = day_of(start), day_of(end)

    step("population", 0, 4)
    pop = draw_population(n_sponsors, s_day, e_day, rng_pop)
    years = year_starts(s_day, e_day)
    hires = plan_hires(pop, years, rng_hire)
    step("inspections", 1, 4)
    insp = run_inspections(pop, hires, years, rng_insp)
    shares_officer = link_phoenixes(pop, rng_insp)

    step("sponsors", 2, 4)
    register_path = register if register is not None else names.default_register_path()
    excluded_names, excluded_numbers = (names.load_register(register_path)
                                        if register_path and register_path.exists()
                                        else (frozenset(), frozenset()))
    sponsor_ids = names.kvk_numbers(pop.n, rng_names, excluded_numbers)
    key_salt = int(rng_keys.integers(0, 10**10))
    address_salt = int(rng_keys.integers(0, 10**10))
    total_hires = int(hires.sum())
    sponsors = _sponsors_frame(pop, sponsor_ids, rng_names, excluded_names, address_salt,
                               rng_versions)
    officers = _officers(pop, sponsor_ids, total_hires, shares_officer, key_salt, rng_off)
    inspections = _inspections_frame(insp, sponsor_ids, pop.end, rng_versions)
    truth = _truth_frame(pop, sponsor_ids)

    per_sponsor = hires.sum(axis=1)
    offsets = np.r_[0, np.cumsum(per_sponsor)]
    n_chunks = (pop.n + CHUNK_SPONSORS - 1) // CHUNK_SPONSORS
    chunk_rngs = [np.random.default_rng(s) for s in chunk_seeds.spawn(n_chunks)]
    nationality_rngs = [np.random.default_rng(s) for s in streams[7].spawn(n_chunks)]
    permits, notices, director_rows = [], [], []
    kept: dict[str, list[pl.DataFrame]] = {t: [] for t in CHUNKED_TABLES}
    for c in range(n_chunks):
        step(f"chunk {c + 1}/{n_chunks}", c, n_chunks)
        rng = chunk_rngs[c]
        chunk = np.arange(c * CHUNK_SPONSORS, min((c + 1) * CHUNK_SPONSORS, pop.n))
        emp = draw_employments(pop, hires, years, chunk, int(offsets[chunk[0]]), lookup, rng,
                               nationality_rngs[c])
        persons = names.pseudonyms("PK", emp.person, 10, key_salt)
        payroll_rows, workforce_rows = build_payroll(pop, emp, chunk, lookup, rng)
        notification_rows = build_notifications(pop, emp, chunk, lookup, rng)
        permits.append(_permits_frame(emp, sponsor_ids, persons))
        notices.append(_notifications_frame(notification_rows, sponsor_ids, persons, c))
        director_rows.append(_director_officers(pop, emp, sponsor_ids, persons, rng))
        for name, frame in (("payroll", _payroll_frame(payroll_rows, sponsor_ids, persons)),
                            ("workforce", _workforce_frame(workforce_rows, sponsor_ids))):
            if on_chunk is not None:
                on_chunk(name, c, frame)
            else:
                kept[name].append(frame)
    step("done", n_chunks, n_chunks)

    officers = officer_versions(pl.concat([officers, *director_rows]).sort(
        "sponsor_id", "from_date", "role", "officer_key"), pop.end, rng_versions)
    tables: dict[str, pl.DataFrame] = {
        "sponsors": sponsors,
        "sponsor_officers": _conform(officers, "sponsor_officers"),
        "permits": _conform(pl.concat(permits), "permits"),
        "notifications": _conform(pl.concat(notices), "notifications"),
        "inspections": inspections,
        "truth": truth,
    }
    if on_chunk is None:
        for name in CHUNKED_TABLES:
            tables[name] = _conform(pl.concat(kept[name]), name)
    ordered = {name: tables[name] for name in (*TABLES, "truth") if name in tables}
    return World(tables=ordered, profile=_profile(pop, sponsor_ids))


def simulate_world(n_sponsors: int, seed: int, start: date = DEFAULT_START,
                   end: date = DEFAULT_END) -> dict[str, pl.DataFrame]:
    """The seven contract tables plus ``truth`` of a simulated world, in memory."""
    return generate_world(n_sponsors, seed, start, end).tables


def _conform(frame: pl.DataFrame, name: str) -> pl.DataFrame:
    """Every column of the contract (version 2), in its order and type."""
    table = TRUTH if name == "truth" else TABLES[name]
    return frame.select([pl.col(c.name).cast(c.dtype) for c in table.columns])


def _sponsors_frame(pop: Population, ids: pl.Series, rng: np.random.Generator,
                    excluded_names: frozenset[str], address_salt: int,
                    rng_versions: np.random.Generator) -> pl.DataFrame:
    """The sponsors' versions: as first recorded at recognition, then each change."""
    sector_name = np.array([s.name for s in SECTORS], dtype=object)[pop.sector]
    trade = names.trade_names(sector_name, pop.legal_form, rng, excluded_names)
    sbi = np.empty(pop.n, dtype=object)
    for si, s in enumerate(SECTORS):
        idx = np.flatnonzero(pop.sector == si)
        codes = np.array(s.sbi_codes, dtype=object)
        sbi[idx] = codes[rng.integers(0, codes.size, idx.size)]
    university = pop.is_archetype("university")
    sbi[university] = np.where(rng.random(int(university.sum())) < 0.5, "85302", "72190")
    frame = pl.DataFrame({
        "sponsor_id": ids,
        "name": trade,
        "legal_form": pop.legal_form.astype(str),
        "sbi_code": sbi.astype(str),
        "postcode4": pl.Series(pop.postcode4).cast(pl.String),
        "address_key": names.pseudonyms("AD", pop.address, 9, address_salt),
        "founded_on": date_series("founded_on", pop.founded),
        "recognised_on": date_series("recognised_on", pop.recognised),
        "recognition_ended_on": pl.Series([None] * pop.n, dtype=pl.Date),
        "recognition_end_reason": pl.Series([None] * pop.n, dtype=pl.String),
    })
    # A few sponsors registered no address (foreign entities, old records).
    missing = rng.random(pop.n) < np.where(pop.legal_form == "FOREIGN_ENTITY", 0.2, 0.005)
    frame = frame.with_columns(
        pl.when(pl.Series(missing)).then(None).otherwise(pl.col("postcode4")).alias("postcode4"))

    def rename(index: np.ndarray) -> pl.Series:
        return names.trade_names(sector_name[index], pop.legal_form[index], rng_versions,
                                 excluded_names)

    return _conform(sponsor_versions(pop, frame, rng_versions, rename, address_salt),
                    "sponsors")


def _officers(pop: Population, ids: pl.Series, total_hires: int, shares_officer: np.ndarray,
              salt: int, rng: np.random.Generator) -> pl.DataFrame:
    """Directors and owners: own officers, shared pool officers, phoenix links."""
    large = pop.is_archetype("large_firm") | pop.is_archetype("university")
    k = np.minimum(np.where(large, 2 + rng.poisson(2.0, pop.n), 1 + rng.poisson(0.5, pop.n)), 6)
    owner = np.repeat(np.arange(pop.n), k)
    offset = np.cumsum(k) - k
    rank = np.arange(owner.size) - offset[owner]
    index = total_hires + np.arange(owner.size)
    role = np.where(rank == 0, "DIRECTOR", rng.choice(
        np.array(["DIRECTOR", "OWNER", "SIGNATORY"]), size=owner.size, p=[0.5, 0.35, 0.15]))
    life = np.maximum(pop.end - pop.founded[owner], 1)
    start = pop.founded[owner] + np.where(rank == 0, 0, (rng.random(owner.size) * life * 0.6)
                                          .astype(np.int64))
    leaves = (rank > 0) & (rng.random(owner.size) < 0.15)
    stop = start + rng.integers(90, 3000, owner.size)
    stop = np.where(leaves & (stop <= pop.end), stop, NEVER)

    pooled = np.flatnonzero(pop.officer_pool >= 0)
    pool_index = total_hires + owner.size + pop.officer_pool[pooled]
    pool_start = np.maximum(pop.founded[pooled],
                            pop.recognised[pooled] - rng.integers(0, 3 * 365, pooled.size))

    phoenix = np.flatnonzero(shares_officer)
    pred = pop.predecessor[phoenix]
    pred_index = total_hires + offset[pred]

    sponsor = np.concatenate([owner, pooled, phoenix])
    person = np.concatenate([index, pool_index, pred_index])
    roles = np.concatenate([role, np.full(pooled.size, "DIRECTOR"), np.full(phoenix.size,
                                                                            "DIRECTOR")])
    from_day = np.concatenate([start, pool_start, pop.founded[phoenix]])
    to_day = np.concatenate([stop, np.full(pooled.size + phoenix.size, NEVER)])
    frame = pl.DataFrame({
        "sponsor_id": ids.gather(sponsor),
        "officer_key": names.pseudonyms("PK", person, 10, salt),
        "role": roles.astype(str),
        "from_date": date_series("from_date", from_day),
        "to_date": date_series("to_date", to_day),
    })
    return frame.unique(["sponsor_id", "officer_key", "role", "from_date"], keep="first",
                        maintain_order=True)


def _director_officers(pop: Population, emp: Employments, ids: pl.Series, persons: pl.Series,
                       rng: np.random.Generator) -> pl.DataFrame:
    """The migrant founder is director (or owner) of their sponsor from its founding."""
    idx = np.flatnonzero(emp.is_director)
    sponsor = emp.sponsor[idx]
    return pl.DataFrame({
        "sponsor_id": ids.gather(sponsor),
        "officer_key": persons.gather(idx),
        "role": np.where(rng.random(idx.size) < 0.75, "DIRECTOR", "OWNER").astype(str),
        "from_date": date_series("from_date", pop.founded[sponsor]),
        "to_date": date_series("to_date", np.full(idx.size, NEVER)),
    })


def _permits_frame(emp: Employments, ids: pl.Series, persons: pl.Series) -> pl.DataFrame:
    return pl.DataFrame({
        "application_id": persons.str.replace("PK", "APP"),
        "sponsor_id": ids.gather(emp.sponsor),
        "person_key": persons,
        "scheme": np.asarray(SCHEMES)[emp.scheme],
        "submitted_on": date_series("submitted_on", emp.submitted),
        "decided_on": date_series("decided_on", emp.decided),
        "decision": emp.decision.astype(str),
        "age_at_submission": emp.age,
        "declared_monthly_salary": emp.declared.astype(float),
        "declared_weekly_hours": emp.weekly_hours.astype(float),
        "isco_code": emp.isco.astype(str),
        "valid_from": date_series("valid_from", emp.valid_from),
        "valid_until": date_series("valid_until", emp.valid_until),
        "nationality": emp.nationality.astype(str),
    })


def _payroll_frame(rows, ids: pl.Series, persons: pl.Series) -> pl.DataFrame:  # noqa: ANN001
    # One int64 key (employment, period, filing day) sorts faster than a lexsort.
    key = ((rows.employment.astype(np.int64) << 32) | ((rows.period - rows.period.min(
        initial=0)) << 16) | (rows.filed_on - rows.filed_on.min(initial=0)))
    order = np.argsort(key, kind="stable")
    return _conform(pl.DataFrame({
        "sponsor_id": ids.gather(rows.sponsor[order]),
        "person_key": persons.gather(rows.employment[order]),
        "period": date_series("period", first_day(rows.period[order]), None),
        "gross_wage": rows.gross_wage[order],
        "hours_paid": rows.hours_paid[order],
        "filed_on": date_series("filed_on", rows.filed_on[order], None),
        "is_correction": rows.is_correction[order],
    }), "payroll")


def _workforce_frame(rows, ids: pl.Series) -> pl.DataFrame:  # noqa: ANN001
    order = np.lexsort((rows.filed_on, rows.period, rows.sponsor))
    return _conform(pl.DataFrame({
        "sponsor_id": ids.gather(rows.sponsor[order]),
        "period": date_series("period", first_day(rows.period[order]), None),
        "headcount": rows.headcount[order].astype(np.int64),
        "total_gross_wage": rows.total_gross_wage[order],
        "filed_on": date_series("filed_on", rows.filed_on[order], None),
        "is_correction": rows.is_correction[order],
    }), "workforce")


def _notifications_frame(rows, ids: pl.Series, persons: pl.Series,  # noqa: ANN001
                         chunk: int) -> pl.DataFrame:
    order = np.lexsort((rows.filed_on, rows.event_on, rows.sponsor))
    employment = rows.employment[order]
    person = persons.gather(np.maximum(employment, 0))
    person = pl.select(pl.when(pl.Series(employment >= 0)).then(person).otherwise(None)
                       ).to_series()
    number = chunk * 10**8 + np.arange(order.size)
    return pl.DataFrame({
        "notification_id": names.pseudonyms("NT", number, 11, 0),
        "sponsor_id": ids.gather(rows.sponsor[order]),
        "person_key": person,
        "kind": rows.kind[order].astype(str),
        "event_on": date_series("event_on", rows.event_on[order], None),
        "filed_on": date_series("filed_on", rows.filed_on[order], None),
    })


def _inspections_frame(insp, ids: pl.Series, last_day: int,  # noqa: ANN001
                       rng: np.random.Generator) -> pl.DataFrame:
    """The inspections' versions: opened, closed, and changed on appeal."""
    order = np.lexsort((insp.sponsor, insp.opened))
    frame = pl.DataFrame({
        "inspection_id": [f"INS{i + 1:07d}" for i in range(order.size)],
        "sponsor_id": ids.gather(insp.sponsor[order]),
        "opened_on": date_series("opened_on", insp.opened[order]),
        "closed_on": date_series("closed_on", insp.closed[order]),
        "selection": insp.selection[order].astype(str),
        "outcome": insp.outcome[order].astype(str),
        "findings": pl.Series("findings", [insp.findings[i] for i in order.tolist()],
                              dtype=pl.List(pl.String), strict=False),
        "fine_eur": pl.Series(insp.fine[order], dtype=pl.Float64, nan_to_null=True),
        "plan_id": pl.Series(insp.plan_id[order].tolist(), dtype=pl.String),
        "inclusion_probability": pl.Series(insp.inclusion_probability[order],
                                           dtype=pl.Float64, nan_to_null=True),
    })
    return _conform(inspection_versions(frame, insp.revoked[order], last_day, rng),
                    "inspections")


def _truth_frame(pop: Population, ids: pl.Series) -> pl.DataFrame:
    abusive = pop.is_abusive
    return _conform(pl.DataFrame({
        "sponsor_id": ids,
        "is_abusive": abusive,
        "typologies": _lists(*np.nonzero(pop.typologies), np.array(TYPOLOGY_NAMES), pop.n),
        "abuse_from": date_series("abuse_from", np.where(abusive, pop.abuse_from, NEVER)),
        # The last day of abuse (abuse_until is the first day without); null while it goes
        # on at the world's last day.
        "abuse_until": date_series("abuse_until", np.where(
            abusive & (pop.abuse_until <= pop.end), pop.abuse_until - 1, NEVER)),
    }), "truth")


def _profile(pop: Population, ids: pl.Series) -> pl.DataFrame:
    hard = np.array([a.hard_negative for a in ARCHETYPES])[pop.archetype]
    return pl.DataFrame({
        "sponsor_id": ids,
        "sector": np.array([s.name for s in SECTORS], dtype=object)[pop.sector].astype(str),
        "archetype": np.array(ARCHETYPE_NAMES, dtype=object)[pop.archetype].astype(str),
        "hard_negative": hard & ~pop.is_abusive,
        "predecessor": _optional_ids(ids, pop.predecessor),
    })


def _lists(row: np.ndarray, col: np.ndarray, labels: np.ndarray, n: int) -> pl.Series:
    """A list column of ``n`` rows: row i holds labels[col] of the (row, col) pairs with row i,
    in column order; empty where there are none."""
    long = pl.DataFrame({"row": row.astype(np.int64), "label": labels[col].astype(str)})
    grouped = long.group_by("row").agg("label")
    return (pl.DataFrame({"row": np.arange(n, dtype=np.int64)})
            .join(grouped, on="row", how="left", maintain_order="left")
            .select(pl.col("label").fill_null(pl.lit([], dtype=pl.List(pl.String))))
            .to_series().alias("typologies"))


def _optional_ids(ids: pl.Series, index: np.ndarray) -> pl.Series:
    """Sponsor ids at ``index``, null where the index is negative."""
    taken = ids.gather(np.maximum(index, 0))
    missing = np.flatnonzero(index < 0)
    return taken.scatter(missing, None) if missing.size else taken
