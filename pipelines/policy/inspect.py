"""Inspections of a plan's picks resolved against the simulated truth, with the simulator's
own inspection model: an inspection opens on a day of the year while the sponsor is
recognised, finds each typology running that day with its detection probability, records a
minor breach at a clean sponsor (or one whose abuse it missed) now and then, ends
inconclusive more often where abuse runs, and is recorded as the simulator records its own
(an OPEN version, a closing version days later, a changed outcome after objection or appeal
months later: ``pipelines.simulate.versions.inspection_versions``).

Draws are common random numbers: the draws of an inspection depend on the seed, the year
and the sponsor only, so two policies inspecting the same sponsor in the same year get the
same outcome, and differences between policies are not noise of the draws.
"""

from __future__ import annotations

import zlib
from datetime import date

import numpy as np
import polars as pl

from pipelines.simulate.calendar import NEVER, date_series, day_of
from pipelines.simulate.inspections import FINE_PER_FINDING, INCONCLUSIVE, MINOR_BREACH
from pipelines.simulate.typologies import TYPOLOGIES
from pipelines.simulate.versions import inspection_versions
from sponsorwatch.contract import TABLES
from sponsorwatch.history import current

MINOR_KINDS = ("ADMINISTRATION_FAILURE", "NOTIFICATION_FAILURE")
#: Draws per inspection: open day, close delay, one per typology, minor, inconclusive,
#: minor kind, warning, fine multiplier, revocation.
_DRAWS = 2 + len(TYPOLOGIES) + 6


def _draws(seed: int, year: int, sponsors: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(uniform draws, closing delays) per sponsor, from a stream of its own."""
    uniforms = np.empty((len(sponsors), _DRAWS))
    delays = np.empty(len(sponsors), dtype=np.int64)
    for i, sponsor in enumerate(sponsors):
        rng = np.random.default_rng([seed, year, zlib.crc32(sponsor.encode())])
        uniforms[i] = rng.random(_DRAWS)
        delays[i] = 14 + int(rng.gamma(2.0, 45.0))
    return uniforms, delays


def _open_days(first_draw: np.ndarray, ended: np.ndarray, start: int, stop: int
               ) -> np.ndarray:
    """The day an inspection opens: uniform over the year while the sponsor is recognised."""
    hi = np.maximum(np.minimum(stop, ended - 1), start)
    return np.minimum(start + (first_draw * (hi - start + 1)).astype(np.int64), hi)


def opening_days(sponsors: pl.DataFrame, year: int, seed: int, ends: pl.DataFrame,
                 world_end: date) -> pl.DataFrame:
    """``sponsor_id, opened_on``: the day an inspection of each sponsor in ``year`` would
    open (the same common random draw :func:`resolve_plan` uses), for every sponsor given,
    inspected or not: the day on which the abuse an inspection could find is defined."""
    rows = sponsors.select("sponsor_id").join(ends, on="sponsor_id", how="left",
                                              maintain_order="left")
    u, _ = _draws(seed, year, rows["sponsor_id"].to_list())
    start = day_of(date(year, 1, 1))
    stop = min(day_of(date(year, 12, 31)), day_of(world_end))
    ended = rows["recognition_ended_on"].cast(pl.Int64).fill_null(NEVER).to_numpy()
    return rows.select("sponsor_id").with_columns(
        date_series("opened_on", _open_days(u[:, 0], ended, start, stop)))


def fined_before(inspections: pl.DataFrame) -> pl.DataFrame:
    """``sponsor_id, fines``: fined violations per sponsor (latest versions)."""
    return (current("inspections", inspections)
            .filter((pl.col("outcome") == "VIOLATION") & (pl.col("fine_eur") > 0))
            .group_by("sponsor_id").agg(fines=pl.len().cast(pl.Int64)))


def resolve_plan(picks: pl.DataFrame, year: int, seed: int, truth: pl.DataFrame,
                 ends: pl.DataFrame, fines: pl.DataFrame, world_end: date,
                 id_prefix: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The inspections of a year's plan.

    Args:
        picks: ``sponsor_id, plan_id, selection, inclusion_probability`` (the plan's
            :func:`training.planning.design.planned_inspections`).
        truth: the world's truth (``sponsor_id, typologies, abuse_from, abuse_until``).
        ends: ``sponsor_id, recognition_ended_on`` (an inspection opens before the end).
        fines: :func:`fined_before` (a repeat offender's fine is 50% higher).
        world_end: versions recorded after it are not in the world.
        id_prefix: makes the inspection ids unique among the world's.

    Returns:
        (every version in the contract's inspections shape, one row per inspection with
        what only the simulation knows: ``inspection_id, sponsor_id, selection, plan_id,
        opened_on, outcome_resolved`` (as it closes, even after the world's end),
        ``abusive_at_open`` and ``abuse_detected`` (a running typology found)).
    """
    table = TABLES["inspections"]
    if picks.is_empty():
        empty = pl.DataFrame(schema={c.name: c.dtype for c in table.columns})
        return empty, pl.DataFrame()
    rows = (picks.join(truth.select("sponsor_id", "typologies", "abuse_from", "abuse_until"),
                       on="sponsor_id", how="left", maintain_order="left")
            .join(ends, on="sponsor_id", how="left", maintain_order="left")
            .join(fines, on="sponsor_id", how="left", maintain_order="left"))
    n = rows.height
    u, delay = _draws(seed, year, rows["sponsor_id"].to_list())
    last_day = day_of(world_end)
    start, stop = day_of(date(year, 1, 1)), min(day_of(date(year, 12, 31)), last_day)
    ended = rows["recognition_ended_on"].cast(pl.Int64).fill_null(NEVER).to_numpy()
    opened = _open_days(u[:, 0], ended, start, stop)
    closed = opened + delay
    began = rows["abuse_from"].cast(pl.Int64).fill_null(NEVER).to_numpy()
    last = rows["abuse_until"].cast(pl.Int64).fill_null(NEVER).to_numpy()
    running = (began <= opened) & (opened <= last)
    found = np.zeros((n, len(TYPOLOGIES)), dtype=bool)
    for t, typology in enumerate(TYPOLOGIES):
        has = rows.select(pl.col("typologies").list.contains(typology.name).fill_null(False)
                          ).to_series().to_numpy()
        found[:, t] = running & has & (u[:, 2 + t] < typology.detection)
    real = found.any(axis=1)
    k = 2 + len(TYPOLOGIES)
    minor = ~real & (u[:, k] < MINOR_BREACH)
    inconclusive = ~real & ~minor & (
        u[:, k + 1] < np.where(running, 3 * INCONCLUSIVE, INCONCLUSIVE))
    resolved = np.where(real | minor, "VIOLATION",
                        np.where(inconclusive, "INCONCLUSIVE", "NO_VIOLATION"))
    findings: list[list[str] | None] = []
    for r in range(n):
        if resolved[r] != "VIOLATION":
            findings.append(None)
        elif real[r]:
            findings.append(sorted({TYPOLOGIES[t].finding for t in np.flatnonzero(found[r])}))
        else:
            findings.append([MINOR_KINDS[int(u[r, k + 2] < 0.4)]])
    n_findings = np.array([len(f) if f else 0 for f in findings])
    repeat = rows["fines"].fill_null(0).to_numpy() > 0
    warning = u[:, k + 3] < np.where(real, 0.2, 0.6)
    multiplier = np.array([1.0, 2.0, 4.0])[np.minimum((u[:, k + 4] * 3).astype(int), 2)]
    fine = np.where(resolved == "VIOLATION",
                    np.where(warning & ~repeat, 0.0,
                             FINE_PER_FINDING * n_findings * np.where(repeat, 1.5, 1.0)
                             * np.where(real, multiplier, 0.5)), np.nan)
    revocation = np.where(found, np.array([t.revocation for t in TYPOLOGIES])[None, :],
                          0.0).max(axis=1)
    revoked = (resolved == "VIOLATION") & (u[:, k + 5] < revocation)
    still_open = closed > last_day
    ids = [f"{id_prefix}{i + 1:05d}" for i in range(n)]
    frame = pl.DataFrame({
        "inspection_id": ids,
        "sponsor_id": rows["sponsor_id"],
        "opened_on": date_series("opened_on", opened),
        "closed_on": date_series("closed_on", np.where(still_open, NEVER, closed)),
        "selection": rows["selection"],
        "outcome": np.where(still_open, "OPEN", resolved).astype(str),
        "findings": pl.Series("findings", [None if o else f for f, o in
                                           zip(findings, still_open, strict=True)],
                              dtype=pl.List(pl.String)),
        "fine_eur": pl.Series(np.where(still_open, np.nan, fine), dtype=pl.Float64,
                              nan_to_null=True),
        "plan_id": rows["plan_id"],
        "inclusion_probability": rows["inclusion_probability"],
    })
    # Appeals come from a stream of the plan's own (they follow the fines, not the sponsor).
    versions = inspection_versions(frame, revoked, last_day,
                                   np.random.default_rng([seed, year, zlib.crc32(
                                       id_prefix.encode())]))
    versions = versions.select([pl.col(c.name).cast(c.dtype) for c in table.columns])
    hidden = frame.select("inspection_id", "sponsor_id", "selection", "plan_id",
                          "opened_on").with_columns(
        outcome_resolved=pl.Series(resolved.astype(str)),
        abusive_at_open=pl.Series(running), abuse_detected=pl.Series(real))
    return versions, hidden
