"""Inspection plans with a random slice, and their inverse-propensity evaluation.

A plan for capacity ``K`` with random share ``r`` takes the ``K - m`` highest-ranked sponsors
(``m = round(r * K)``) with certainty and draws ``m`` more uniformly without replacement from
the ``N - (K - m)`` others. Each pick carries its selection reason and its probability of
being selected (1 for risk-based picks, ``m / (N - (K - m))`` for random ones), so that once
the inspections come back every outcome can be weighted by the inverse of that probability
(Horvitz-Thompson) to estimate the precision of the top and the prevalence of violations
across all sponsors, without the bias of risk-based selection.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from training.fairness import Z_95

RISK_BASED, RANDOM = "RISK_BASED", "RANDOM"

#: Outcomes of the contract's inspections table mapped to a violation indicator.
OUTCOME_VALUE = {"VIOLATION": 1, "NO_VIOLATION": 0}


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


def attach_outcomes(plan: pl.DataFrame, inspections: pl.DataFrame, plan_as_of: date,
                    horizon_days: int = 366) -> pl.DataFrame:
    """Join each planned sponsor to the first inspection opened after the plan date.

    ``outcome`` is 1 (VIOLATION), 0 (NO_VIOLATION) or null (not inspected, open,
    inconclusive). Inspections of the contract's shape are accepted as they are.
    """
    window_end = date.fromordinal(plan_as_of.toordinal() + horizon_days)
    first = (inspections.lazy()
             .filter((pl.col("opened_on") > plan_as_of) & (pl.col("opened_on") <= window_end))
             .sort("opened_on", "inspection_id")
             .group_by("sponsor_id").agg(pl.col("outcome").first())
             .with_columns(outcome=pl.col("outcome").replace_strict(
                 OUTCOME_VALUE, default=None, return_dtype=pl.Int8))
             .collect())
    return plan.drop("outcome", strict=False).join(first, on="sponsor_id", how="left")


def clopper_pearson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) binomial interval at the two-sided level of ``z``.

    Used here rather than Wilson because random slices are small and violations rare, where
    Wilson's coverage dips below nominal; the exact interval never does.
    """
    from scipy.stats import beta, norm

    if trials <= 0:
        return (0.0, 1.0)
    alpha = 2 * float(norm.sf(z))
    lo = 0.0 if successes == 0 else float(beta.ppf(alpha / 2, successes, trials - successes + 1))
    hi = 1.0 if successes == trials else float(
        beta.ppf(1 - alpha / 2, successes + 1, trials - successes))
    return (lo, hi)


@dataclass(frozen=True)
class Estimate:
    """A weighted estimate with its interval and the counts behind it."""

    estimate: float | None
    lo: float | None
    hi: float | None
    inspected: int
    known: int
    violations: int

    def covers(self, value: float) -> bool:
        return self.lo is not None and self.hi is not None and self.lo <= value <= self.hi


def _stratum(plan: pl.DataFrame, reason: str, z: float,
             hit: pl.Expr | None = None) -> tuple[int, int, int, float | None, float, float]:
    """(stratum size, inspected, known, violations rate, Wilson lo, hi) of one stratum."""
    rows = plan.filter(pl.col("selection_reason") == reason)
    size = int(rows["stratum_size"][0]) if rows.height else 0
    known = rows.filter(pl.col("outcome").is_not_null())
    outcome = pl.col("outcome") if hit is None else (pl.col("outcome") * hit.cast(pl.Int8))
    violations = int(known.select(outcome.sum()).item() or 0)
    if known.height == 0:
        return size, rows.height, 0, None, 0.0, 1.0
    lo, hi = clopper_pearson_interval(violations, known.height, z)
    return size, rows.height, known.height, violations / known.height, lo, hi


def _scaled(value: float | None, detection_probability: float) -> float | None:
    return None if value is None else min(1.0, value / detection_probability)


def evaluate_plan(plan: pl.DataFrame, top_k: int | None = None,
                  detection_probability: float = 1.0, z: float = Z_95) -> dict[str, Any]:
    """Inverse-propensity estimates from a plan whose inspections came back.

    ``plan`` is a plan with an ``outcome`` column (1, 0, null). Within each stratum (the
    risk-based census and the random slice) outcomes are weighted by the inverse of the
    inclusion probability, adjusted for inspections without a known outcome (assumed missing
    at random within the stratum). Intervals: exact binomial per stratum, combined bound by
    bound (conservative). With ``detection_probability`` < 1 (share of violations an inspection
    finds) estimates and bounds are divided by it to estimate the abuse rate rather than the
    detected-violation rate.

    Returns ``precision_risk_based`` (of the risk-based picks), ``prevalence_rest`` (outside
    them), ``prevalence_all`` (all sponsors), ``precision_top_k`` (of the model's top ``top_k``,
    default the plan's capacity, which the random slice partly covers) and the weighted
    totals.
    """
    if "outcome" not in plan.columns:
        raise ValueError("the plan has no outcome column: attach inspection outcomes first")
    if not 0 < detection_probability <= 1:
        raise ValueError(f"detection probability must be in (0, 1], got {detection_probability}")
    n_top, inspected_top, known_top, p_top, lo_top, hi_top = _stratum(plan, RISK_BASED, z)
    _, inspected_rest, known_rest, p_rest, lo_rest, hi_rest = _stratum(plan, RANDOM, z)
    population = int(plan["population"][0]) if plan.height else 0
    n_rest = population - n_top
    k = top_k or plan.height

    def estimate(parts: list[tuple[int, float | None, float, float]], divisor: int,
                 inspected: int, known: int, violations: int) -> Estimate:
        """Combine strata given as (size, rate, lo, hi) into a rate over ``divisor``."""
        if divisor <= 0 or any(rate is None for size, rate, _, _ in parts if size > 0):
            return Estimate(None, None, None, inspected, known, violations)
        value = sum(size * (rate or 0.0) for size, rate, _, _ in parts) / divisor
        lo = sum(size * lo_ for size, _, lo_, _ in parts) / divisor
        hi = sum(size * hi_ for size, _, _, hi_ in parts) / divisor
        return Estimate(_scaled(value, detection_probability),
                        _scaled(lo, detection_probability), _scaled(hi, detection_probability),
                        inspected, known, violations)

    v_top = int(plan.filter(pl.col("selection_reason") == RISK_BASED)["outcome"].sum() or 0)
    v_rest = int(plan.filter(pl.col("selection_reason") == RANDOM)["outcome"].sum() or 0)
    precision_risk_based = estimate([(n_top, p_top, lo_top, hi_top)], n_top, inspected_top,
                                    known_top, v_top)
    prevalence_rest = estimate([(n_rest, p_rest, lo_rest, hi_rest)], n_rest, inspected_rest,
                               known_rest, v_rest)
    prevalence_all = estimate([(n_top, p_top, lo_top, hi_top), (n_rest, p_rest, lo_rest, hi_rest)],
                              population, inspected_top + inspected_rest,
                              known_top + known_rest, v_top + v_rest)
    precision_top_k = _precision_top_k(plan, k, z, estimate)
    return {
        "design": {"risk_based": n_top, "outside_top": n_rest, "population": population,
                   "random_probability": (inspected_rest / n_rest) if n_rest else 0.0,
                   "detection_probability": detection_probability, "top_k": k},
        "precision_risk_based": asdict(precision_risk_based),
        "prevalence_rest": asdict(prevalence_rest),
        "prevalence_all": asdict(prevalence_all),
        "precision_top_k": asdict(precision_top_k),
        "lift": (None if precision_risk_based.estimate is None or not prevalence_all.estimate
                 else precision_risk_based.estimate / prevalence_all.estimate),
        "weighted_violations": _weighted_total(plan) / detection_probability,
    }


def _precision_top_k(plan: pl.DataFrame, k: int, z: float, estimate: Any) -> Estimate:
    """Precision of the model's top k: the census part directly, ranks beyond the census
    through the random slice (a random pick counts as a hit only when it ranks within k)."""
    top = plan.filter(pl.col("selection_reason") == RISK_BASED)
    in_k = pl.col("rank") <= k if "rank" in plan.columns else pl.lit(True)
    census = top.filter(in_k)
    known = census.filter(pl.col("outcome").is_not_null())
    violations = int(known["outcome"].sum() or 0)
    parts: list[tuple[int, float | None, float, float]] = []
    if census.height:
        lo, hi = (clopper_pearson_interval(violations, known.height, z) if known.height
                  else (0.0, 1.0))
        parts.append((census.height, violations / known.height if known.height else None,
                      lo, hi))
    inspected, n_known, total_violations = census.height, known.height, violations
    beyond = k - census.height
    if beyond > 0:
        size, inspected_rest, known_rest, rate, lo, hi = _stratum(plan, RANDOM, z, hit=in_k)
        # The hits among the random slice estimate how many of the whole rest lie in ranks
        # (census, k] and are violations; spread over the `beyond` such ranks.
        if rate is not None and size:
            scale = size / beyond
            parts.append((beyond, min(1.0, rate * scale), min(1.0, lo * scale),
                          min(1.0, hi * scale)))
        else:
            parts.append((beyond, None, 0.0, 1.0))
        inspected += inspected_rest
        n_known += known_rest
        total_violations += int(plan.filter((pl.col("selection_reason") == RANDOM) & in_k)
                                ["outcome"].sum() or 0)
    return estimate(parts, k, inspected, n_known, total_violations)


def _weighted_total(plan: pl.DataFrame) -> float:
    """Horvitz-Thompson total of violations, non-response adjusted within each stratum."""
    total = 0.0
    for reason in (RISK_BASED, RANDOM):
        rows = plan.filter(pl.col("selection_reason") == reason)
        known = rows.filter(pl.col("outcome").is_not_null())
        if known.height:
            adjustment = rows["design_weight"].sum() / known["design_weight"].sum()
            total += float((known["design_weight"] * known["outcome"]).sum()) * adjustment
    return total


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


# --------------------------------------------------------------------------------------------
# Storage: plans live beside the score store, one folder per score snapshot.


def score_dates(scores_dir: Path) -> list[date]:
    """Days with a score snapshot, oldest first."""
    if not scores_dir.exists():
        return []
    days = []
    for folder in scores_dir.glob("as_of=*"):
        try:
            if (folder / "scores.parquet").exists():
                days.append(date.fromisoformat(folder.name.removeprefix("as_of=")))
        except ValueError:
            continue
    return sorted(days)


def load_score_snapshot(scores_dir: Path, as_of: date | None = None) -> tuple[pl.DataFrame, date]:
    """The score snapshot of ``as_of`` (default: the latest).

    Raises:
        FileNotFoundError: naming the folder and the days that exist.
    """
    from training.scoring import score_store_path

    days = score_dates(scores_dir)
    if not days:
        raise FileNotFoundError(f"{scores_dir}: no score snapshot; run `sponsorwatch score`")
    day = as_of or days[-1]
    if day not in days:
        raise FileNotFoundError(f"{scores_dir}: no score snapshot as of {day}; there are "
                                f"{', '.join(str(d) for d in days)}")
    return pl.read_parquet(score_store_path(scores_dir, day)), day


def plan_dir(home: Path, as_of: date) -> Path:
    return home / "plans" / f"as_of={as_of.isoformat()}"


def write_plan(plan: pl.DataFrame, design: PlanDesign, home: Path, as_of: date,
               out: Path | None = None) -> Path:
    """Write the plan and its design under ``<home>/plans/as_of=DATE/`` (and to ``out``:
    .csv with reasons as text, .parquet or .json).

    Raises:
        ValueError: for an ``out`` of another kind.
    """
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
                    flat.write_csv(tmp)
                else:
                    flat.write_json(tmp)
    return path


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
