"""Rates per group with their intervals, ratios to the best-off group (four-fifths rule),
significant breaches, and where a false-positive gap comes from (gap attribution).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from training.fitting.metrics import binomial_interval
from training.governance.groups import RESTRICTED_GROUPING, UNKNOWN

#: Outcome columns an audit population may carry: inspection labels and simulated truth.
OUTCOMES: tuple[str, ...] = ("label", "truth")


#: Metrics with a ratio to the best-off group; True where higher is better.
RATIO_METRICS: dict[str, bool] = {
    "selection_rate": False, "precision": True, "fpr": False, "fdr": False,
}


def wilson_interval(successes: float, trials: float) -> tuple[float, float]:
    """95 % Wilson score interval of a binomial proportion; (nan, nan) without trials."""
    lo, hi = binomial_interval(successes, trials, "wilson")
    return float(lo[0]), float(hi[0])


def _with_wilson(table: pl.DataFrame, successes: str, trials: str, name: str) -> pl.DataFrame:
    """``table`` with the rate ``name`` and its 95 % Wilson interval ``name_lo``, ``name_hi``
    (null without trials)."""
    hits, n = table[successes].to_numpy(), table[trials].to_numpy()
    lo, hi = binomial_interval(hits, n, "wilson")
    valid = n > 0
    rate = np.divide(hits, n, out=np.full(n.shape, np.nan), where=valid)
    return table.with_columns(
        pl.Series(name, rate, dtype=pl.Float64).fill_nan(None),
        pl.Series(f"{name}_lo", lo, dtype=pl.Float64).fill_nan(None),
        pl.Series(f"{name}_hi", hi, dtype=pl.Float64).fill_nan(None))


def one_sided_p_value(worse_hits: float, worse_n: float, better_hits: float,
                      better_n: float) -> float:
    """P-value of Fisher's exact test that the first rate exceeds the second (one-sided).

    Exact rather than a z-test: the counts compared here (false positives in a group's top k)
    are often a handful, where the normal approximation calls chance significant.
    """
    from scipy.stats import fisher_exact

    if worse_n <= 0 or better_n <= 0:
        return math.nan
    table = [[int(worse_hits), int(worse_n - worse_hits)],
             [int(better_hits), int(better_n - better_hits)]]
    return float(fisher_exact(table, alternative="greater").pvalue)


def _metric_counts(outcome: str) -> dict[str, tuple[str, str]]:
    """Per metric: (hits column, trials column) for one outcome."""
    return {
        "precision": (f"tp_{outcome}", f"flagged_{outcome}"),
        "fpr": (f"fp_{outcome}", f"negatives_{outcome}"),
        "fdr": (f"fp_{outcome}", f"flagged_{outcome}"),
    }


def group_metrics(population: pl.DataFrame, grouping: str, min_support: int = 20,
                  min_expected: float = 5.0) -> pl.DataFrame:
    """Per group of ``grouping``: selection rate, and per outcome present (``label``, ``truth``)
    precision, FPR and FDR with Wilson intervals, ratio to the best-off group and the p-value
    of the group being worse off than it.

    ``population`` has ``selected`` (bool, in the top k), the grouping column and optional
    Int8 outcome columns (1 abusive / violation, 0 not, null unknown). Groups with at least
    ``min_support`` trials for a metric get a ratio; the best-off group (the yardstick) is
    chosen among them where ``min_expected`` events of the rarer kind are expected at the
    pooled rate and the group is known (so that neither a small group with no event by
    chance nor sponsors without data set the bar).
    """
    outcomes = [o for o in OUTCOMES if o in population.columns]
    selected = pl.col("selected")
    aggs: list[pl.Expr] = [pl.len().alias("sponsors"), selected.sum().alias("selected")]
    for o in outcomes:
        aggs += [
            pl.col(o).is_not_null().sum().alias(f"known_{o}"),
            (pl.col(o) == 1).sum().alias(f"positives_{o}"),
            (pl.col(o) == 0).sum().alias(f"negatives_{o}"),
            (selected & pl.col(o).is_not_null()).sum().alias(f"flagged_{o}"),
            (selected & (pl.col(o) == 1)).sum().alias(f"tp_{o}"),
            (selected & (pl.col(o) == 0)).sum().alias(f"fp_{o}"),
        ]
    table = (population.with_columns(pl.col(grouping).fill_null(UNKNOWN))
             .group_by(grouping).agg(aggs).sort(grouping))
    table = _with_wilson(table, "selected", "sponsors", "selection_rate")
    counts: dict[str, tuple[str, str, bool]] = {
        "selection_rate": ("selected", "sponsors", RATIO_METRICS["selection_rate"])}
    for o in outcomes:
        for base, (hits, trials) in _metric_counts(o).items():
            table = _with_wilson(table, hits, trials, f"{base}_{o}")
            counts[f"{base}_{o}"] = (hits, trials, RATIO_METRICS[base])
    return _with_ratios(table, counts, min_support, min_expected)


def _with_ratios(table: pl.DataFrame, counts: dict[str, tuple[str, str, bool]],
                 min_support: int, min_expected: float) -> pl.DataFrame:
    rows = table.to_dicts()
    for metric, (hits, trials, higher_is_better) in counts.items():
        total = sum(r[trials] for r in rows)
        pooled = sum(r[hits] for r in rows) / total if total else 0.0
        rarer = min(pooled, 1.0 - pooled)
        eligible = [r for r in rows if r[metric] is not None and r[trials] >= min_support]
        eligible_ids = {id(r) for r in eligible}
        # The yardstick also needs enough expected events and a known group: a small group
        # with no event by chance, or sponsors without data, would make every ratio zero.
        yardsticks = [r for r in eligible if r[trials] * rarer >= min_expected
                      and r[table.columns[0]] != UNKNOWN]
        best = (max if higher_is_better else min)(yardsticks, key=lambda r: r[metric]) \
            if yardsticks else None
        for r in rows:
            ratio = p_value = None
            if best is not None and id(r) in eligible_ids:
                value, reference = r[metric], best[metric]
                if higher_is_better:
                    ratio = 1.0 if reference == 0 else value / reference
                    p_value = one_sided_p_value(best[hits], best[trials], r[hits], r[trials])
                else:
                    ratio = 1.0 if value == 0 else reference / value
                    p_value = one_sided_p_value(r[hits], r[trials], best[hits], best[trials])
            r[f"{metric}_ratio"] = ratio
            r[f"{metric}_p_worse"] = p_value
            r[f"{metric}_best_group"] = None if best is None else best[table.columns[0]]
    return pl.DataFrame(rows, schema_overrides={
        **{f"{m}_ratio": pl.Float64 for m in counts},
        **{f"{m}_p_worse": pl.Float64 for m in counts},
        **{f"{m}_best_group": pl.String for m in counts}}, infer_schema_length=None)


@dataclass(frozen=True)
class Breach:
    """A group whose ratio to the best-off group is below the bound, significantly."""

    grouping: str
    group: str
    metric: str
    ratio: float
    p_value: float
    best_group: str

    def describe(self) -> str:
        return (f"{self.grouping}={self.group}: {self.metric} ratio {self.ratio:.2f} to "
                f"{self.best_group} (p={self.p_value:.3g})")


def disparity_breaches(tables: Mapping[str, pl.DataFrame], metric: str, min_ratio: float,
                       alpha: float = 0.05,
                       groupings: Sequence[str] = (RESTRICTED_GROUPING,)) -> list[Breach]:
    """Groups whose ``metric`` ratio to the best-off group is below ``min_ratio`` and whose
    disadvantage is significant at ``alpha`` (so that chance in a small group is no breach)."""
    breaches: list[Breach] = []
    for grouping in groupings:
        table = tables.get(grouping)
        if table is None or f"{metric}_ratio" not in table.columns:
            continue
        for row in table.iter_rows(named=True):
            ratio, p_value = row[f"{metric}_ratio"], row[f"{metric}_p_worse"]
            if ratio is not None and ratio < min_ratio and p_value is not None \
                    and p_value < alpha:
                breaches.append(Breach(grouping, str(row[grouping]), metric, ratio, p_value,
                                       str(row[f"{metric}_best_group"])))
    return breaches


def unmeasured_groups(table: pl.DataFrame | None, metric: str, min_support: int,
                      min_group_share: float = 0.0,
                      grouping: str = RESTRICTED_GROUPING) -> list[str]:
    """What keeps ``metric`` from being compared between the groups of ``grouping``, one
    line each (empty when it can be): no group to measure, no best-off group to compare
    with, or a known group holding at least ``min_group_share`` of the rows with too few
    trials (e.g. labelled negatives for an FPR) for its ratio. Smaller groups and sponsors
    of unknown group never block; an audit that cannot measure must not pass."""
    base = metric.rsplit("_", 1)[0]
    outcome = metric.rsplit("_", 1)[-1]
    trials = dict(_metric_counts(outcome)).get(base, ("", "sponsors"))[1]
    if table is None or table.is_empty() or f"{metric}_ratio" not in table.columns \
            or trials not in table.columns:
        return [f"no {grouping} table with {metric} (no {outcome} known)"]
    rows = table.to_dicts()
    total = sum(r["sponsors"] for r in rows)
    known = [r for r in rows if r[grouping] != UNKNOWN]
    required = [r for r in known if total and r["sponsors"] / total >= min_group_share]
    what = (f"{outcome}led negatives" if outcome == "label" and trials.startswith("negatives")
            else trials.replace("_", " "))
    missing = []
    if not any(r[f"{metric}_best_group"] for r in rows):
        missing.append(f"no {grouping} group has the {min_support} {what} (and enough "
                       f"expected false positives) to be the best-off group that the others "
                       f"are compared with")
    for r in required:
        if r[f"{metric}_ratio"] is None and r[trials] < min_support:
            missing.append(f"{r[grouping]} has {r[trials]} {what} of {r['sponsors']} "
                           f"(needs {min_support})")
    measured = [r for r in known if r[f"{metric}_ratio"] is not None]
    if not missing and len(measured) < 2:
        missing.append(f"fewer than two {grouping} groups measured on {metric}")
    return missing


def ratio_tables(audit: Mapping[str, Any], min_support: int = 20,
                 min_expected: float = 5.0) -> dict[str, pl.DataFrame]:
    """The group tables of a stored audit with ratios and p-values recomputed from its
    counts under the current rules (a logged audit keeps its counts; the rules may improve)."""
    derived = ("_ratio", "_p_worse", "_best_group")
    out: dict[str, pl.DataFrame] = {}
    for grouping, rows in audit.get("groups", {}).items():
        if not rows:
            continue
        table = pl.DataFrame(rows, infer_schema_length=None)
        table = table.select(grouping, *[c for c in table.columns if c != grouping
                                         and not c.endswith(derived)])
        counts: dict[str, tuple[str, str, bool]] = {
            "selection_rate": ("selected", "sponsors", RATIO_METRICS["selection_rate"])}
        for outcome in OUTCOMES:
            if f"tp_{outcome}" in table.columns:
                for base, (hits, trials) in _metric_counts(outcome).items():
                    counts[f"{base}_{outcome}"] = (hits, trials, RATIO_METRICS[base])
        out[grouping] = _with_ratios(table, counts, min_support, min_expected)
    return out


def gap_attribution(population: pl.DataFrame, contributions: pl.DataFrame,
                    feature_names: Sequence[str], groups: pl.DataFrame, outcome: str,
                    top: int = 5, min_support: int = 20,
                    descriptions: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Where the false-positive gap between nationality-mix groups comes from.

    For each group whose FPR (against ``outcome``) is worse than the best-off group's, the
    model's mean contribution (SHAP, log-odds) of every feature to the scores of the
    group's non-abusive sponsors, less the same mean in the best-off group: the features
    that raise clean sponsors' scores in one group more than in the other. The differences
    of all features add up to the gap in the mean margin.

    ``population`` is :func:`audit_population`'s; ``contributions`` has ``sponsor_id`` and
    one column per feature; ``groups`` is the nationality-mix table of :func:`group_metrics`.
    """
    metric = f"fpr_{outcome}"
    best = (groups[f"{metric}_best_group"].drop_nulls()
            if f"{metric}_best_group" in groups.columns else pl.Series(dtype=pl.String()))
    reference = str(best[0]) if len(best) else None
    if reference is None:
        return {"skipped": f"no best-off group for {metric}"}
    negatives = (population.filter(pl.col(outcome) == 0)
                 .select("sponsor_id", RESTRICTED_GROUPING)
                 .join(contributions.select("sponsor_id", *feature_names), on="sponsor_id"))
    means = negatives.group_by(RESTRICTED_GROUPING).agg(
        pl.len().alias("negatives"), *[pl.col(f).mean() for f in feature_names])
    base = means.filter(pl.col(RESTRICTED_GROUPING) == reference)
    if base.height == 0:
        return {"skipped": f"no non-abusive sponsors in the best-off group {reference}"}
    worse = groups.filter(pl.col(f"{metric}_ratio") < 1).sort(f"{metric}_ratio")
    attributed = []
    for row in worse.iter_rows(named=True):
        group = means.filter(pl.col(RESTRICTED_GROUPING) == row[RESTRICTED_GROUPING])
        if group.height == 0 or group["negatives"][0] < min_support:
            continue
        gaps = {f: float(group[f][0] - base[f][0]) for f in feature_names}
        raising = sorted((f for f in gaps if gaps[f] > 0), key=lambda f: -gaps[f])[:top]
        attributed.append({
            "group": row[RESTRICTED_GROUPING], "negatives": int(group["negatives"][0]),
            f"{metric}_ratio": row[f"{metric}_ratio"], "margin_gap": sum(gaps.values()),
            "features": [{"feature": f, "gap": gaps[f],
                          "description": (descriptions or {}).get(f, "")} for f in raising]})
    return {"outcome": outcome, "reference_group": reference,
            "reference_negatives": int(base["negatives"][0]),
            "method": "mean SHAP contribution among non-abusive sponsors, group minus "
                      "best-off group (log-odds)", "groups": attributed}


def top_k_mask(scores: np.ndarray, sponsor_ids: Sequence[str], k: int) -> np.ndarray:
    """True for the ``k`` highest scores (ties broken by sponsor id, as rankings are)."""
    order = np.lexsort((np.asarray(sponsor_ids, dtype=object).astype(str), -np.asarray(scores)))
    mask = np.zeros(len(order), dtype=bool)
    mask[order[:k]] = True
    return mask
