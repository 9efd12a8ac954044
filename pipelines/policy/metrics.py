"""What a policy achieved in one year, against the simulated truth.

- ``abuse_found``: inspections closing with a violation at a sponsor abusing on the day it
  opened (as resolved, even where it closes after the world's last day);
  ``abuse_detected``: those where a running typology itself was found.
- ``plan_precision_truth``: share of the plan's picks abusing on the scoring day;
  ``risk_precision_truth`` the same for its risk-based picks.
- ``p_at_100_truth``: share of the ranking's top ``top_k`` abusing on the scoring day.
- ``ht_*``: the plan's Horvitz-Thompson estimate of the violation rate over all scored
  sponsors with its 95 % interval (``training.planning.estimates.evaluate_plan``, from the
  outcomes as the warehouse finally records them), against the true abuse rate (share
  abusing on the scoring day) and the expected violation rate (what an inspection of every
  sponsor would find with the simulator's detection, minor-breach and inconclusive rates).
- ``abuse_rate_*``: the same plan's estimate of the abuse rate: the HT violation rate
  corrected for what inspections miss and find at clean sponsors (Rogan-Gladen,
  ``training.planning.estimates.correct_for_misclassification``) with the sensitivity and
  false-finding rate of the inspection-quality study (:mod:`.quality`): ``abuse_rate_lo``/
  ``_hi`` propagate the study's intervals, ``abuse_rate_lo_plugin``/``_hi_plugin`` take
  ``s`` and ``f`` as known. It is compared with ``true_abuse_rate_at_open``: the share of
  the scored sponsors abusing on the day their inspection would open (the year's common
  random draw, :func:`pipelines.policy.inspect.opening_days`), the definition the study's
  sensitivity is measured on, since an inspection finds only abuse running when it opens;
  the share abusing on the scoring day (``true_abuse_rate``) differs from it by the abuse
  that starts or stops during the year, and its coverage is reported too.
- ``fpr_ratio_*``: false-positive rate among truly clean sponsors by nationality mix
  (``training.governance.groups``, ``training.governance.disparity.group_metrics``), lowest
  ratio to the best-off group, for the risk-based picks and for the top ``top_k``.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import polars as pl

from pipelines.simulate.inspections import INCONCLUSIVE, MINOR_BREACH
from pipelines.simulate.typologies import TYPOLOGIES
from training.governance.disparity import group_metrics
from training.governance.groups import RESTRICTED_GROUPING
from training.planning.design import RANDOM, RISK_BASED
from training.planning.estimates import correct_for_misclassification, evaluate_plan

OUTCOME_VALUE = {"VIOLATION": 1, "NO_VIOLATION": 0}


def truth_on(truth: pl.DataFrame, day: date) -> pl.DataFrame:
    """``sponsor_id, abusive`` (abuse running on ``day``) and ``expected_violation`` (the
    chance that an inspection with a conclusive outcome finds a violation)."""
    running = (pl.col("abuse_from").is_not_null() & (pl.col("abuse_from") <= day)
               & (pl.col("abuse_until").is_null() | (pl.col("abuse_until") >= day)))
    missed = pl.col("typologies").list.eval(pl.element().replace_strict(
        {t.name: 1.0 - t.detection for t in TYPOLOGIES}, default=1.0,
        return_dtype=pl.Float64).log()).list.sum().exp()
    found = pl.when(running).then(1.0 - missed).otherwise(0.0)
    violation = found + (1.0 - found) * MINOR_BREACH
    inconclusive = (1.0 - violation) * pl.when(running).then(3 * INCONCLUSIVE).otherwise(
        INCONCLUSIVE)
    return truth.select("sponsor_id", abusive=running,
                        expected_violation=violation / (1.0 - inconclusive))


def truth_at_open(truth: pl.DataFrame, opened: pl.DataFrame) -> pl.DataFrame:
    """``sponsor_id, abusive_at_open``: abuse running on each sponsor's ``opened_on``
    (:func:`pipelines.policy.inspect.opening_days`)."""
    from pipelines.policy.quality import running_on

    return (opened.join(truth.select("sponsor_id", "abuse_from", "abuse_until"),
                        on="sponsor_id", how="left")
            .select("sponsor_id", abusive_at_open=running_on(pl.col("opened_on"))
                    .fill_null(False)))


def _corrected(estimate: dict[str, Any], quality: dict[str, Any]) -> dict[str, Any]:
    """The Rogan-Gladen abuse-rate estimate; all None where the study cannot correct (no
    abuser or no clean sponsor in its sample, or a sensitivity not above the false-finding
    rate)."""
    s, f = quality.get("sensitivity"), quality.get("false_finding_rate")
    if s is None or f is None or s <= f:
        return dict.fromkeys(("estimate", "lo", "hi", "lo_plugin", "hi_plugin"))
    return correct_for_misclassification(
        estimate, s, f, (quality["sensitivity_lo"], quality["sensitivity_hi"]),
        (quality["false_finding_lo"], quality["false_finding_hi"]))


def _covers(lo: float | None, hi: float | None, value: float) -> bool | None:
    return None if lo is None or hi is None else bool(lo <= value <= hi)


def _share(frame: pl.DataFrame, column: str) -> float:
    return float(frame[column].mean()) if frame.height else math.nan


def lowest_fpr_ratio(population: pl.DataFrame) -> float | None:
    """Lowest ratio of the best-off nationality-mix group's FPR to another's (1 = equal)."""
    table = group_metrics(population, RESTRICTED_GROUPING)
    ratios = table["fpr_truth_ratio"].drop_nulls() if "fpr_truth_ratio" in table.columns \
        else pl.Series([], dtype=pl.Float64)
    return float(ratios.min()) if ratios.len() else None


def year_metrics(day: date, ranked: pl.DataFrame, plan: pl.DataFrame, hidden: pl.DataFrame,
                 outcomes: pl.DataFrame, truth: pl.DataFrame, groups: pl.DataFrame,
                 top_k: int, quality: dict[str, Any],
                 at_open: pl.DataFrame) -> dict[str, Any]:
    """The year's figures (see the module's docstring).

    Args:
        ranked: ``sponsor_id, score, rank`` of every scored sponsor.
        plan: the year's plan (``training.planning.design.build_inspection_plan``).
        hidden: :func:`pipelines.policy.inspect.resolve_plan`'s second frame.
        outcomes: ``inspection_id, outcome`` as the warehouse finally records them.
        groups: ``sponsor_id`` and the nationality mix (``training.governance.groups``).
        quality: :func:`pipelines.policy.quality.inspection_quality`.
        at_open: :func:`truth_at_open` of the scored sponsors.
    """
    known = truth_on(truth, day)
    scored = ranked.join(known, on="sponsor_id", how="left").with_columns(
        pl.col("abusive").fill_null(False), pl.col("expected_violation").fill_null(0.0))
    picks = plan.select("sponsor_id", "selection").join(
        scored.select("sponsor_id", "abusive"), on="sponsor_id", how="left")
    risk = picks.filter(pl.col("selection") == RISK_BASED)
    top = scored.filter(pl.col("rank") <= top_k)
    with_outcome = plan.join(
        hidden.select("sponsor_id", "inspection_id").join(outcomes, on="inspection_id",
                                                          how="left"),
        on="sponsor_id", how="left").with_columns(outcome=pl.col("outcome").replace_strict(
            OUTCOME_VALUE, default=None, return_dtype=pl.Int8))
    estimate = evaluate_plan(with_outcome, top_k=plan.height)["prevalence_all"]
    true_rate, expected = _share(scored, "abusive"), _share(scored, "expected_violation")
    rate_at_open = _share(scored.select("sponsor_id").join(at_open, on="sponsor_id",
                                                           how="left")
                          .with_columns(pl.col("abusive_at_open").fill_null(False)),
                          "abusive_at_open")
    lo, hi = estimate["lo"], estimate["hi"]
    corrected = _corrected(estimate, quality)
    a_lo, a_hi = corrected["lo"], corrected["hi"]
    p_lo, p_hi = corrected["lo_plugin"], corrected["hi_plugin"]
    population = scored.join(groups, on="sponsor_id", how="left").with_columns(
        truth=pl.col("abusive").cast(pl.Int8))
    in_plan = pl.col("sponsor_id").is_in(risk["sponsor_id"].implode())
    return {
        "year": day.year, "as_of": str(day), "active": ranked.height, "capacity": plan.height,
        "random_picks": plan.filter(pl.col("selection") == RANDOM).height,
        "inclusion_probability_random": (
            float(plan.filter(pl.col("selection") == RANDOM)["inclusion_probability"][0])
            if plan.filter(pl.col("selection") == RANDOM).height else None),
        "abuse_found": hidden.filter((pl.col("outcome_resolved") == "VIOLATION")
                                     & pl.col("abusive_at_open")).height,
        "abuse_detected": int(hidden["abuse_detected"].sum()),
        "violations": hidden.filter(pl.col("outcome_resolved") == "VIOLATION").height,
        "plan_precision_truth": _share(picks, "abusive"),
        "risk_precision_truth": _share(risk, "abusive"),
        "p_at_100_truth": _share(top, "abusive"),
        "true_abuse_rate": true_rate,
        "true_violation_rate": expected,
        "ht_estimate": estimate["estimate"], "ht_lo": lo, "ht_hi": hi,
        "ht_known": estimate["known"],
        "ht_covers_abuse_rate": None if lo is None else bool(lo <= true_rate <= hi),
        "ht_covers_violation_rate": None if lo is None else bool(lo <= expected <= hi),
        "true_abuse_rate_at_open": rate_at_open,
        "abuse_rate_estimate": corrected["estimate"], "abuse_rate_lo": a_lo,
        "abuse_rate_hi": a_hi, "abuse_rate_lo_plugin": p_lo, "abuse_rate_hi_plugin": p_hi,
        "abuse_rate_covers": _covers(a_lo, a_hi, rate_at_open),
        "abuse_rate_plugin_covers": _covers(p_lo, p_hi, rate_at_open),
        "abuse_rate_covers_scoring_day": _covers(a_lo, a_hi, true_rate),
        "fpr_ratio_plan": lowest_fpr_ratio(population.with_columns(selected=in_plan)),
        "fpr_ratio_top_k": lowest_fpr_ratio(population.with_columns(
            selected=pl.col("rank") <= top_k)),
    }
