"""Inspection plans with a random slice: the design, the draw, and where a plan is kept.

A plan for capacity ``K`` with random share ``r`` takes the ``K - m`` highest-ranked sponsors
(``m = round(r * K)``) with certainty and draws ``m`` more uniformly without replacement from
the ``N - (K - m)`` others. Each pick carries its selection reason and its probability of
being selected (1 for risk-based picks, ``m / (N - (K - m))`` for random ones), so that once
the inspections come back every outcome can be weighted by the inverse of that probability.

Every pick carries the three columns the contract's inspections carry (version 2):
``plan_id`` (the plan's stable id, ``PLAN-<as_of>-<seed>`` unless one is given),
``selection`` (RISK_BASED or RANDOM) and ``inclusion_probability``, so an inspection opened
from the plan is recorded with them as they are (:func:`planned_inspections`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

RISK_BASED, RANDOM = "RISK_BASED", "RANDOM"


@dataclass(frozen=True)
class PlanDesign:
    """The sampling design of a plan: enough to weight its outcomes."""

    capacity: int
    random_share: float
    seed: int
    population: int
    risk_based: int
    random: int
    random_probability: float
    #: The id every pick (and so every inspection opened from it) carries.
    plan_id: str = ""


def default_plan_id(as_of: date | None, seed: int) -> str:
    """A plan's stable id: ``PLAN-<as_of>-<seed>`` (``PLAN-<seed>`` without a day), so the
    same snapshot and seed always give the same id."""
    return f"PLAN-{as_of.isoformat()}-{seed}" if as_of is not None else f"PLAN-{seed}"


def plan_design(population: int, capacity: int, random_share: float, seed: int,
                plan_id: str = "") -> PlanDesign:
    """Split ``capacity`` into risk-based and random picks for a population of sponsors.

    Raises:
        ValueError: when the capacity or random share is out of range.
    """
    if capacity < 1:
        raise ValueError(f"capacity must be at least 1, got {capacity}")
    if not 0.0 <= random_share <= 1.0:
        raise ValueError(f"random share must be between 0 and 1, got {random_share}")
    capacity = min(capacity, population)
    random_picks = int(round(capacity * random_share))
    risk_based = capacity - random_picks
    rest = population - risk_based
    random_picks = min(random_picks, rest)
    return PlanDesign(capacity=capacity, random_share=random_share, seed=seed,
                      population=population, risk_based=risk_based, random=random_picks,
                      random_probability=(random_picks / rest) if rest else 0.0,
                      plan_id=plan_id)


def build_inspection_plan(scores: pl.DataFrame, capacity: int, random_share: float = 0.1,
                          seed: int = 42, plan_id: str | None = None
                          ) -> tuple[pl.DataFrame, PlanDesign]:
    """The inspection list for the next period from a score snapshot.

    Args:
        scores: one row per sponsor with ``sponsor_id`` and ``score`` (``rank`` if present is
            used for ordering; other columns such as ``name``, ``sector`` and ``reasons`` are
            carried along).
        capacity: inspections available (K).
        random_share: share of K drawn at random from the sponsors outside the risk-based top.
        seed: seed of the random draw; the same seed gives the same plan.
        plan_id: the plan's id [default: :func:`default_plan_id` of the snapshot's
            ``as_of`` (when the scores carry one) and the seed].

    Returns:
        The plan (``plan_position``, ``plan_id``, ``sponsor_id``, ``selection``,
        ``inclusion_probability``, ``selection_reason`` (the same as ``selection``, the name
        the plan's evaluation reads), ``design_weight``, ``stratum_size``, ``population``,
        then the score columns) and its design.
    """
    if scores.is_empty():
        raise ValueError("the score snapshot is empty: nothing to plan")
    if plan_id is None:
        days = scores["as_of"].unique().to_list() if "as_of" in scores.columns else []
        plan_id = default_plan_id(days[0] if len(days) == 1 else None, seed)
    if not plan_id.strip():
        raise ValueError("the plan id is empty")
    order = ["rank", "sponsor_id"] if "rank" in scores.columns else ["score", "sponsor_id"]
    ranked = scores.sort(order, descending=[order[0] == "score", False])
    design = plan_design(ranked.height, capacity, random_share, seed, plan_id)
    rest = ranked.height - design.risk_based
    drawn = np.sort(np.random.default_rng(seed).choice(rest, size=design.random,
                                                       replace=False))
    top = ranked.head(design.risk_based).with_columns(
        selection_reason=pl.lit(RISK_BASED), inclusion_probability=pl.lit(1.0),
        stratum_size=pl.lit(design.risk_based))
    randoms = ranked.slice(design.risk_based)[drawn.tolist()].with_columns(
        selection_reason=pl.lit(RANDOM),
        inclusion_probability=pl.lit(design.random_probability),
        stratum_size=pl.lit(rest))
    plan = pl.concat([top, randoms], how="vertical_relaxed").with_columns(
        plan_position=pl.int_range(1, pl.len() + 1, dtype=pl.Int32),
        plan_id=pl.lit(plan_id, dtype=pl.String),
        selection=pl.col("selection_reason"),
        design_weight=1.0 / pl.col("inclusion_probability"),
        population=pl.lit(ranked.height))
    front = ["plan_position", "plan_id", "sponsor_id", "selection", "inclusion_probability",
             "selection_reason", "design_weight", "stratum_size", "population"]
    return plan.select(front + [c for c in plan.columns if c not in front]), design


#: The columns a plan hands to the inspections opened from it (contract version 2).
INSPECTION_COLUMNS = ("sponsor_id", "plan_id", "selection", "inclusion_probability")


def planned_inspections(plan: pl.DataFrame) -> pl.DataFrame:
    """The plan's picks as the contract's inspection columns: ``sponsor_id, plan_id,
    selection, inclusion_probability`` (String, String, String, Float64), in plan order.

    Raises:
        ValueError: naming the columns a plan of an older version lacks.
    """
    missing = [c for c in INSPECTION_COLUMNS if c not in plan.columns]
    if missing:
        raise ValueError(f"the plan lacks column(s) {missing}; draw it again with "
                         "`sponsorwatch plan`")
    return plan.sort("plan_position").select(
        pl.col("sponsor_id").cast(pl.String), pl.col("plan_id").cast(pl.String),
        pl.col("selection").cast(pl.String),
        pl.col("inclusion_probability").cast(pl.Float64))


def plan_for_export(plan: pl.DataFrame) -> pl.DataFrame:
    """The plan with nested columns (``reasons``) flattened to text, for CSV."""
    if "reasons" not in plan.columns:
        return plan
    text = pl.col("reasons").list.eval(
        pl.element().struct.field("description").fill_null(pl.element().struct.field("feature"))
    ).list.join("; ")
    return plan.with_columns(reasons=text)


def plan_dir(home: Path, as_of: date) -> Path:
    return home / "plans" / f"as_of={as_of.isoformat()}"


def write_plan(plan: pl.DataFrame, design: PlanDesign, home: Path, as_of: date,
               out: Path | None = None) -> Path:
    """Write the plan and its design under ``<home>/plans/as_of=DATE/`` (and to ``out``:
    .csv with reasons as text, .parquet or .json).

    Raises:
        ValueError: for an ``out`` of another kind.
    """
    from sponsorwatch.spreadsheet import neutralise_formulas
    from sponsorwatch.storage import atomic_path, write_json_atomic, write_parquet_atomic

    if out is not None and out.suffix.lower() not in (".csv", ".parquet", ".json"):
        raise ValueError(f"{out}: --out must end in .csv, .parquet or .json")
    folder = plan_dir(home, as_of)
    path = folder / "plan.parquet"
    write_parquet_atomic(plan, path)
    write_json_atomic({**asdict(design), "as_of": as_of.isoformat(), "rows": plan.height},
                      folder / "design.json")
    if out is not None:
        suffix = out.suffix.lower()
        if suffix == ".parquet":
            write_parquet_atomic(plan, out)
        else:
            flat = plan_for_export(plan)
            with atomic_path(out) as tmp:
                if suffix == ".csv":
                    neutralise_formulas(flat).write_csv(tmp)
                else:
                    flat.write_json(tmp)
    return path
