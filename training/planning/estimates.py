"""What a plan's inspections say, weighted by the inverse of each pick's selection
probability (Horvitz-Thompson): the precision of the top and the prevalence of violations
across all sponsors, without the bias of risk-based selection, with exact intervals.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import polars as pl

from training.fitting.metrics import binomial_interval
from training.planning.design import RANDOM, RISK_BASED

#: Outcomes of the contract's inspections table mapped to a violation indicator.
OUTCOME_VALUE = {"VIOLATION": 1, "NO_VIOLATION": 0}


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


def clopper_pearson_interval(successes: int, trials: int,
                             alpha: float = 0.05) -> tuple[float, float]:
    """Exact (Clopper-Pearson) two-sided ``1 - alpha`` binomial interval; (0, 1) without
    trials.

    Used here rather than Wilson because random slices are small and violations rare, where
    Wilson's coverage dips below nominal; the exact interval never does.
    """
    if trials <= 0:
        return (0.0, 1.0)
    lo, hi = binomial_interval(successes, trials, "beta", alpha)
    return float(lo[0]), float(hi[0])


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


def _stratum(plan: pl.DataFrame, reason: str, alpha: float,
             hit: pl.Expr | None = None) -> tuple[int, int, int, float | None, float, float]:
    """(stratum size, inspected, known, violations rate, Wilson lo, hi) of one stratum."""
    rows = plan.filter(pl.col("selection_reason") == reason)
    size = int(rows["stratum_size"][0]) if rows.height else 0
    known = rows.filter(pl.col("outcome").is_not_null())
    outcome = pl.col("outcome") if hit is None else (pl.col("outcome") * hit.cast(pl.Int8))
    violations = int(known.select(outcome.sum()).item() or 0)
    if known.height == 0:
        return size, rows.height, 0, None, 0.0, 1.0
    lo, hi = clopper_pearson_interval(violations, known.height, alpha)
    return size, rows.height, known.height, violations / known.height, lo, hi


def _scaled(value: float | None, detection_probability: float) -> float | None:
    return None if value is None else min(1.0, value / detection_probability)


def evaluate_plan(plan: pl.DataFrame, top_k: int | None = None,
                  detection_probability: float = 1.0, alpha: float = 0.05) -> dict[str, Any]:
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
    n_top, inspected_top, known_top, p_top, lo_top, hi_top = _stratum(plan, RISK_BASED, alpha)
    _, inspected_rest, known_rest, p_rest, lo_rest, hi_rest = _stratum(plan, RANDOM, alpha)
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
    precision_top_k = _precision_top_k(plan, k, alpha, estimate)
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


def _precision_top_k(plan: pl.DataFrame, k: int, alpha: float, estimate: Any) -> Estimate:
    """Precision of the model's top k: the census part directly, ranks beyond the census
    through the random slice (a random pick counts as a hit only when it ranks within k)."""
    top = plan.filter(pl.col("selection_reason") == RISK_BASED)
    in_k = pl.col("rank") <= k if "rank" in plan.columns else pl.lit(True)
    census = top.filter(in_k)
    known = census.filter(pl.col("outcome").is_not_null())
    violations = int(known["outcome"].sum() or 0)
    parts: list[tuple[int, float | None, float, float]] = []
    if census.height:
        lo, hi = (clopper_pearson_interval(violations, known.height, alpha) if known.height
                  else (0.0, 1.0))
        parts.append((census.height, violations / known.height if known.height else None,
                      lo, hi))
    inspected, n_known, total_violations = census.height, known.height, violations
    beyond = k - census.height
    if beyond > 0:
        size, inspected_rest, known_rest, rate, lo, hi = _stratum(plan, RANDOM, alpha, hit=in_k)
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


def rogan_gladen(rate: float, sensitivity: float, false_finding_rate: float) -> float:
    """The rate of the condition behind an imperfect finding (Rogan-Gladen), unclipped:
    ``(rate - f) / (s - f)`` where a finding occurs with probability ``s`` where the
    condition holds and ``f`` where it does not, and ``rate`` is the rate of findings.

    Raises ``ValueError`` unless ``0 <= f < s <= 1``: with ``s <= f`` a finding says nothing
    (or the opposite) about the condition and the rate is not identified.
    """
    if not 0.0 <= false_finding_rate < sensitivity <= 1.0:
        raise ValueError(f"the correction needs 0 <= false-finding rate < sensitivity <= 1, "
                         f"got sensitivity {sensitivity} and false-finding rate "
                         f"{false_finding_rate}")
    return (rate - false_finding_rate) / (sensitivity - false_finding_rate)


def _clip(value: float) -> float:
    return min(1.0, max(0.0, value))


def correct_for_misclassification(
        estimate: Estimate | dict[str, Any], sensitivity: float, false_finding_rate: float,
        sensitivity_interval: tuple[float, float] | None = None,
        false_finding_interval: tuple[float, float] | None = None) -> dict[str, Any]:
    """A finding-rate estimate (``prevalence_all`` of :func:`evaluate_plan`) turned into an
    estimate of the rate of the condition itself, with the Rogan-Gladen correction.

    The point estimate and the interval's bounds go through the same increasing function
    ``v -> (v - f) / (s - f)`` and are clipped to [0, 1] (``lo_plugin``, ``hi_plugin``:
    ``s`` and ``f`` taken as known). Where intervals of ``s`` and ``f`` are given (from the
    inspection-quality study), their uncertainty is propagated as well: ``lo`` and ``hi``
    are the smallest and largest corrected value over the corners of the box (finding
    rate bounds x ``s`` bounds x ``f`` bounds), where a linear-fractional function takes its
    extremes; conservative (the three intervals' joint coverage is at least their
    product, and in practice much more). Where the ``s`` and ``f`` intervals overlap the
    rate is not identified inside the box and the interval is [0, 1]. Without the
    intervals, ``lo``/``hi`` equal the plug-in bounds.

    ``evaluate_plan(..., detection_probability=d)`` is the special case ``s = d``, ``f = 0``.
    """
    values = asdict(estimate) if isinstance(estimate, Estimate) else dict(estimate)
    rogan_gladen(0.0, sensitivity, false_finding_rate)  # refuses s <= f
    v, v_lo, v_hi = values.get("estimate"), values.get("lo"), values.get("hi")
    out: dict[str, Any] = {
        "estimate": None, "lo": None, "hi": None, "lo_plugin": None, "hi_plugin": None,
        "finding_rate": v, "finding_lo": v_lo, "finding_hi": v_hi,
        "sensitivity": sensitivity, "false_finding_rate": false_finding_rate,
        "sensitivity_interval": sensitivity_interval,
        "false_finding_interval": false_finding_interval,
        "propagated": sensitivity_interval is not None and false_finding_interval is not None,
        "identified": True,
        **{k: values[k] for k in ("inspected", "known", "violations") if k in values}}
    if v is None or v_lo is None or v_hi is None:
        return out
    out["estimate"] = _clip(rogan_gladen(v, sensitivity, false_finding_rate))
    out["lo_plugin"] = _clip(rogan_gladen(v_lo, sensitivity, false_finding_rate))
    out["hi_plugin"] = _clip(rogan_gladen(v_hi, sensitivity, false_finding_rate))
    out["lo"], out["hi"] = out["lo_plugin"], out["hi_plugin"]
    if out["propagated"]:
        s_lo, s_hi = sensitivity_interval  # type: ignore[misc]
        f_lo, f_hi = false_finding_interval  # type: ignore[misc]
        if not (s_lo <= sensitivity <= s_hi and f_lo <= false_finding_rate <= f_hi):
            raise ValueError("the sensitivity and false-finding rate must lie in their "
                             "intervals")
        if s_lo <= f_hi:
            out["lo"], out["hi"], out["identified"] = 0.0, 1.0, False
        else:
            corners = [(r - f) / (s - f) for r in (v_lo, v_hi) for s in (s_lo, s_hi)
                       for f in (f_lo, f_hi)]
            out["lo"], out["hi"] = _clip(min(corners)), _clip(max(corners))
    return out


def estimate_abuse_rate(plan: pl.DataFrame, sensitivity: float, false_finding_rate: float,
                        sensitivity_interval: tuple[float, float] | None = None,
                        false_finding_interval: tuple[float, float] | None = None,
                        top_k: int | None = None, alpha: float = 0.05) -> dict[str, Any]:
    """:func:`evaluate_plan` (the design-based violation rate, with ``detection_probability``
    1) plus ``abuse_rate_all``: its ``prevalence_all`` corrected for what inspections miss
    (sensitivity ``s``) and find at clean sponsors (false-finding rate ``f``), see
    :func:`correct_for_misclassification`. ``s`` and ``f`` come from an inspection-quality
    study (re-inspections, or inspections checked against an established truth), never
    from the simulator that made the outcomes."""
    result = evaluate_plan(plan, top_k=top_k, alpha=alpha)
    result["abuse_rate_all"] = correct_for_misclassification(
        result["prevalence_all"], sensitivity, false_finding_rate, sensitivity_interval,
        false_finding_interval)
    return result
