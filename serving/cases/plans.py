"""Plans' picks as cases see them: ``<home>/plans/as_of=DATE/plan.parquet`` written by
``sponsorwatch plan`` (training.planning.design), read for the pick's ``plan_id``,
``selection`` and ``inclusion_probability`` so a case opened from it carries them as the
plan drew them (never as a caller claims them)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from training.planning.design import planned_inspections


def plan_files(home: Path) -> list[tuple[date, Path]]:
    """Every plan under ``home``, oldest first."""
    out = []
    for path in sorted((home / "plans").glob("as_of=*/plan.parquet")):
        try:
            out.append((date.fromisoformat(path.parent.name.removeprefix("as_of=")), path))
        except ValueError:
            continue
    return out


def plan_picks(home: Path) -> pl.DataFrame:
    """Every pick of every plan: ``sponsor_id, plan_id, selection, inclusion_probability,
    plan_as_of`` (empty with those columns where there is no plan)."""
    frames = []
    for as_of, path in plan_files(home):
        try:
            picks = planned_inspections(pl.read_parquet(path))
        except ValueError:  # a plan of an older version, without plan_id
            continue
        frames.append(picks.with_columns(plan_as_of=pl.lit(as_of)))
    if not frames:
        return pl.DataFrame(schema={"sponsor_id": pl.String, "plan_id": pl.String,
                                    "selection": pl.String,
                                    "inclusion_probability": pl.Float64,
                                    "plan_as_of": pl.Date})
    return pl.concat(frames)


def latest_plan(home: Path) -> tuple[date, pl.DataFrame] | None:
    """The newest plan (all its columns), or None."""
    files = plan_files(home)
    if not files:
        return None
    as_of, path = files[-1]
    return as_of, pl.read_parquet(path)


def find_pick(home: Path, sponsor_id: str, plan_id: str | None = None) -> dict[str, Any] | None:
    """The pick of ``sponsor_id`` in plan ``plan_id`` (the newest plan picking it when
    None), or None."""
    picks = plan_picks(home).filter(pl.col("sponsor_id") == sponsor_id)
    if plan_id is not None:
        picks = picks.filter(pl.col("plan_id") == plan_id)
    if picks.is_empty():
        return None
    return picks.sort("plan_as_of").row(-1, named=True)
