"""Inspection plans with a random slice: the design, the draw, and where a plan is kept.

A plan for capacity ``K`` with random share ``r`` takes the ``K - m`` highest-ranked sponsors
(``m = round(r * K)``) with certainty and draws ``m`` more uniformly without replacement from
the ``N - (K - m)`` others. Each pick carries its selection reason and its probability of
being selected (1 for risk-based picks, ``m / (N - (K - m))`` for random ones), so that once
the inspections come back every outcome can be weighted by the inverse of that probability.
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


def plan_design(population: int, capacity: int, random_share: float, seed: int) -> PlanDesign:
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
                      random_probability=(random_picks / rest) if rest else 0.0)


def build_inspection_plan(scores: pl.DataFrame, capacity: int, random_share: float = 0.1,
                          seed: int = 42) -> tuple[pl.DataFrame, PlanDesign]:
    """The inspection list for the next period from a score snapshot.

    Args:
        scores: one row per sponsor with ``sponsor_id`` and ``score`` (``rank`` if present is
            used for ordering; other columns such as ``name``, ``sector`` and ``reasons`` are
            carried along).
        capacity: inspections available (K).
        random_share: share of K drawn at random from the sponsors outside the risk-based top.
        seed: seed of the random draw; the same seed gives the same plan.

    Returns:
        The plan (``plan_position``, ``selection_reason``, ``inclusion_probability``,
        ``design_weight``, ``stratum_size``, then the score columns) and its design.
    """
    if scores.is_empty():
        raise ValueError("the score snapshot is empty: nothing to plan")
    order = ["rank", "sponsor_id"] if "rank" in scores.columns else ["score", "sponsor_id"]
    ranked = scores.sort(order, descending=[order[0] == "score", False])
    design = plan_design(ranked.height, capacity, random_share, seed)
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
        design_weight=1.0 / pl.col("inclusion_probability"),
        population=pl.lit(ranked.height))
    front = ["plan_position", "sponsor_id", "selection_reason", "inclusion_probability",
             "design_weight", "stratum_size", "population"]
    return plan.select(front + [c for c in plan.columns if c not in front]), design


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
