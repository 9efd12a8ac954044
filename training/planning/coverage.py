"""Closing the loop on a simulated world: inspections simulated from the truth, and how
often each estimate's interval covers the true value over seeds.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import numpy as np
import polars as pl

from training.planning.design import RISK_BASED, build_inspection_plan
from training.planning.estimates import evaluate_plan


def violation_probability(truth: pl.DataFrame, detection: float | Mapping[str, float],
                          as_of: date | None = None,
                          false_alarm_probability: float = 0.0) -> pl.DataFrame:
    """Chance that an inspection finds a violation at each sponsor of a simulated world.

    An abusive sponsor (abuse started by ``as_of``) is found with its detection probability:
    ``detection`` itself, or, given per typology, the chance that at least one of its
    typologies is found (1 - prod(1 - d)); failing that, or at a clean sponsor, a minor
    breach is recorded with ``false_alarm_probability``. Returns ``sponsor_id,
    violation_probability, abusive``.
    """
    started = pl.col("is_abusive").fill_null(False)
    if as_of is not None and "abuse_from" in truth.columns:
        started = started & (pl.col("abuse_from").is_null() | (pl.col("abuse_from") <= as_of))
    if isinstance(detection, Mapping):
        missed = pl.col("typologies").list.eval(
            1.0 - pl.element().replace_strict(dict(detection), default=0.0,
                                              return_dtype=pl.Float64)).list.eval(
            pl.element().log()).list.sum().exp()
        found = 1.0 - missed.fill_null(1.0)
    else:
        found = pl.lit(float(detection))
    found = pl.when(started).then(found).otherwise(0.0)
    return truth.select(
        "sponsor_id",
        violation_probability=found + (1.0 - found) * false_alarm_probability,
        abusive=started.cast(pl.Float64))


def simulate_inspection_outcomes(plan: pl.DataFrame, chances: pl.DataFrame,
                                 seed: int) -> pl.DataFrame:
    """Outcomes of a plan's inspections on a simulated world (evaluation only): each
    inspection finds a violation with the sponsor's ``violation_probability`` (from
    :func:`violation_probability`). Returns the plan with ``outcome`` (Int8)."""
    joined = plan.drop("outcome", strict=False).join(
        chances.select("sponsor_id", "violation_probability"), on="sponsor_id", how="left")
    draws = np.random.default_rng(seed).random(joined.height)
    chance = joined["violation_probability"].fill_null(0.0).to_numpy()
    return joined.drop("violation_probability").with_columns(
        outcome=pl.Series(draws < chance).cast(pl.Int8))


def true_rates(plan: pl.DataFrame, scores: pl.DataFrame, chances: pl.DataFrame,
               top_k: int | None = None, column: str = "violation_probability"
               ) -> dict[str, float]:
    """The figures :func:`evaluate_plan` estimates, from a simulated world's truth: the
    expected share of inspections finding a violation among the risk-based picks, outside
    them, over all sponsors and in the model's top k (``column="abusive"``: the share of
    abusive sponsors instead)."""
    k = top_k or plan.height
    ranked = scores.select("sponsor_id", "rank").join(
        chances.select("sponsor_id", pl.col(column).alias("value")), on="sponsor_id",
        how="left").with_columns(pl.col("value").fill_null(0.0))
    picked = plan.filter(pl.col("selection_reason") == RISK_BASED)["sponsor_id"]
    in_top = ranked["sponsor_id"].is_in(picked.implode())

    def mean(frame: pl.DataFrame) -> float:
        return float(frame["value"].mean()) if frame.height else float("nan")

    return {
        "precision_risk_based": mean(ranked.filter(in_top)),
        "prevalence_rest": mean(ranked.filter(~in_top)),
        "prevalence_all": mean(ranked),
        "precision_top_k": mean(ranked.filter(pl.col("rank") <= k)),
    }


ESTIMATES: tuple[str, ...] = ("precision_risk_based", "prevalence_all", "precision_top_k")


def coverage_over_seeds(scores: pl.DataFrame, chances: pl.DataFrame, capacity: int,
                        random_share: float, seeds: int, top_k: int | None = None
                        ) -> list[dict[str, Any]]:
    """Close the loop on a simulated world: for each seed draw a plan, simulate its
    inspections from the truth (:func:`violation_probability`), evaluate, and compare each
    estimate with its true value. One row per seed: per estimate ``estimate, lo, hi,
    true_violation_rate, true_abuse_rate, covered``."""
    k = top_k or capacity
    rows: list[dict[str, Any]] = []
    for seed in range(seeds):
        plan, _ = build_inspection_plan(scores, capacity, random_share, seed)
        outcomes = simulate_inspection_outcomes(plan, chances, seed + 10_000)
        result = evaluate_plan(outcomes, top_k=k)
        target = true_rates(plan, scores, chances, k)
        abuse = true_rates(plan, scores, chances, k, column="abusive")
        row: dict[str, Any] = {"seed": seed,
                               "violations_found": int(outcomes["outcome"].sum() or 0)}
        for key in ESTIMATES:
            estimate = result[key]
            covered = estimate["lo"] is not None and \
                estimate["lo"] <= target[key] <= estimate["hi"]
            row[key] = {"estimate": estimate["estimate"], "lo": estimate["lo"],
                        "hi": estimate["hi"], "true_violation_rate": target[key],
                        "true_abuse_rate": abuse[key], "covered": covered}
        rows.append(row)
    return rows
