"""Estimates with 95 % intervals from a fold's predictions, each saying how it was made.

What the held-out RANDOM inspections say about the served model, and what they cannot say:

- proportions (precision and recall at k, the base rate, a score range's observed violation
  rate) get exact Clopper-Pearson intervals from the counts behind them;
- the population violation rate is design-based where the inspections' inclusion
  probabilities are known: Horvitz-Thompson weighting (Hajek ratio form) within strata of
  equal probability, the stratified design variance with finite population correction, and
  a Korn-Graubard interval (Clopper-Pearson on the effective sample size); without them,
  the RANDOM inspections are taken as a simple random sample;
- other metrics (average precision, lift, Brier score, AUC, calibration in the large) get
  percentile intervals from a seeded bootstrap that resamples sponsors (all of a sponsor's
  snapshots together), so a run is reproducible.

A metric that cannot be measured (too few RANDOM labels, no violation among them, scores
that are not probabilities) is reported with ``measurable: false`` and the reason, never as
a number. The calibration evidence table (observed violation rate per score range, with
its interval and the number of inspected snapshots behind it) is what the sponsor page
quotes; it falls back from RANDOM inspections to all labelled ones per range, and says so.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import polars as pl

from training.fitting.metrics import average_precision, binomial_interval, precision_at_k

ALPHA = 0.05
#: Fewer RANDOM labels than this and no metric on them is measurable.
MIN_RANDOM_LABELS = 20
#: Inspected snapshots a score range needs before a frequency is stated for it.
MIN_EVIDENCE = 30
#: Score ranges of the calibration evidence: (0, 0.05], (0.05, 0.1], ... (0.8, 1].
EVIDENCE_EDGES: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0)
BOOTSTRAP_RESAMPLES = 1000

CLOPPER_PEARSON = "clopper-pearson (exact binomial)"
BOOTSTRAP = "percentile bootstrap over sponsors"
HORVITZ_THOMPSON = ("horvitz-thompson (hajek ratio), stratified design variance with finite "
                    "population correction, korn-graubard interval")
SIMPLE_RANDOM = ("clopper-pearson (exact binomial); the RANDOM inspections taken as a simple "
                 "random sample, no inclusion probabilities known")


def measured(value: float, lo: float, hi: float, method: str, rows: int,
             **detail: Any) -> dict[str, Any]:
    """One estimate with its interval, the method and the rows it rests on."""
    return {"measurable": True, "estimate": float(value), "lo": float(lo), "hi": float(hi),
            "method": method, "rows": int(rows), **detail}


def not_measurable(reason: str, rows: int, code: str, **values: Any) -> dict[str, Any]:
    """A metric that cannot be measured: the reason in words, and as ``reason_code`` with
    its ``reason_values`` for pages that say it in another language."""
    return {"measurable": False, "reason": reason, "rows": int(rows), "reason_code": code,
            "reason_values": values}


def proportion(hits: float, trials: float, rows: int | None = None,
               method: str = CLOPPER_PEARSON, alpha: float = ALPHA,
               **detail: Any) -> dict[str, Any]:
    """``hits / trials`` with its exact interval (trials may be an effective size)."""
    lo, hi = binomial_interval(hits, trials, "beta", alpha)
    return measured(hits / trials, lo[0], hi[0], method,
                    int(trials) if rows is None else rows, **detail)


# --- design-based population rate --------------------------------------------------------

def design_weighted_rate(rows: pl.DataFrame, alpha: float = ALPHA,
                         strata: Sequence[str] = ("as_of", "selection")) -> dict[str, Any]:
    """The violation rate of the population the designs drew from, by Horvitz-Thompson.

    ``rows`` are the snapshots a design drew (``inclusion_probability`` known), with
    ``label`` (1, 0, null where the inspection gave no conclusive outcome). A stratum is one
    value of ``strata`` and of the probability: its drawn rows stand for ``drawn / pi``
    population members, its labelled rows for all its drawn ones (missing at random within
    the stratum). The estimate is ``sum_h N_h * p_h / sum_h N_h``; its variance
    ``sum_h (N_h / N)^2 (1 - n_h / N_h) s_h^2 / n_h`` (a stratum with one label takes the
    largest Bernoulli variance, 1/4); the interval is Clopper-Pearson at the effective sample
    size ``p (1 - p) / variance`` (Korn and Graubard), never wider than the labels allow.
    """
    keys = [c for c in strata if c in rows.columns] + ["inclusion_probability"]
    drawn = rows.filter(pl.col("inclusion_probability").is_not_null()
                        & (pl.col("inclusion_probability") > 0))
    table = (drawn.group_by(keys)
             .agg(drawn=pl.len(), n=pl.col("label").count(),
                  hits=pl.col("label").cast(pl.Float64).sum())
             .filter(pl.col("n") > 0))
    labelled = int(table["n"].sum()) if table.height else 0
    if labelled == 0:
        return not_measurable("no labelled inspection with a known inclusion probability", 0,
                              "no_design")
    n = table["n"].to_numpy().astype(float)
    hits = table["hits"].to_numpy().astype(float)
    size = np.maximum(table["drawn"].to_numpy() / table["inclusion_probability"].to_numpy(), n)
    share = size / size.sum()
    p_h = hits / n
    estimate = float((share * p_h).sum())
    s2 = np.where(n > 1, p_h * (1 - p_h) * n / np.maximum(n - 1, 1), 0.25)
    variance = float((share ** 2 * (1 - n / size) * s2 / n).sum())
    effective = (estimate * (1 - estimate) / variance
                 if variance > 0 and 0 < estimate < 1 else float(labelled))
    effective = min(effective, float(labelled))
    interval = proportion(estimate * effective, effective, labelled, HORVITZ_THOMPSON, alpha,
                          standard_error=math.sqrt(variance), effective_rows=effective,
                          strata=table.height, population=float(size.sum()),
                          unweighted=float(hits.sum() / labelled),
                          selections=_counts(drawn, "selection"))
    interval["estimate"] = estimate  # exactly, not through the effective size's rounding
    return interval


def _counts(rows: pl.DataFrame, column: str) -> dict[str, int]:
    """Labelled rows per value of ``column`` (empty without the column)."""
    if column not in rows.columns:
        return {}
    counts = rows.filter(pl.col("label").is_not_null())[column].value_counts(sort=True)
    return {str(value): int(count) for value, count in counts.iter_rows()}


# --- bootstrap -------------------------------------------------------------------------

def _auc(y: np.ndarray, s: np.ndarray) -> float:
    """AUC-ROC by the Mann-Whitney rank sum (ties averaged), as scikit-learn's.

    Not ``metrics.auc_roc``: the bootstrap calls it a thousand times, and scikit-learn's
    ``roc_auc_score`` takes about 15 times as long per call on a few hundred rows."""
    from scipy.stats import rankdata

    positives = y.sum()
    negatives = y.size - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    ranks = rankdata(s)
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2)
                 / (positives * negatives))


def _sponsor_resamples(sponsors: np.ndarray, resamples: int,
                       seed: int) -> list[np.ndarray]:
    """Row indices of ``resamples`` samples of the sponsors drawn with replacement, each
    sponsor with all its rows."""
    codes, groups = np.unique(sponsors, return_inverse=True)
    members = [np.flatnonzero(groups == g) for g in range(codes.size)]
    rng = np.random.default_rng(seed)
    return [np.concatenate([members[g] for g in rng.integers(0, codes.size, codes.size)])
            for _ in range(resamples)]


def bootstrap(statistics: dict[str, Callable[[np.ndarray, np.ndarray], float]],
              y: np.ndarray, s: np.ndarray, sponsors: np.ndarray, seed: int,
              resamples: int = BOOTSTRAP_RESAMPLES, alpha: float = ALPHA
              ) -> dict[str, dict[str, Any]]:
    """Percentile intervals of each statistic ``f(y, s)`` over sponsor resamples."""
    draws = {name: np.empty(resamples) for name in statistics}
    for i, rows in enumerate(_sponsor_resamples(sponsors, resamples, seed)):
        for name, f in statistics.items():
            draws[name][i] = f(y[rows], s[rows])
    out = {}
    for name, f in statistics.items():
        defined = draws[name][np.isfinite(draws[name])]
        if defined.size < 0.9 * resamples:
            out[name] = not_measurable(
                f"defined in only {defined.size} of {resamples} bootstrap resamples", y.size,
                "bootstrap_undefined", defined=int(defined.size), resamples=resamples)
            continue
        lo, hi = np.quantile(defined, [alpha / 2, 1 - alpha / 2])
        out[name] = measured(f(y, s), lo, hi, BOOTSTRAP, y.size,
                             sponsors=int(np.unique(sponsors).size), resamples=resamples,
                             resamples_defined=int(defined.size), seed=seed)
    return out


# --- the metrics of the RANDOM slice ---------------------------------------------------

def _lift(k: int) -> Callable[[np.ndarray, np.ndarray], float]:
    def lift(y: np.ndarray, s: np.ndarray) -> float:
        base = y.mean() if y.size else 0.0
        return precision_at_k(y, s, k) / base if base else float("nan")
    return lift


def random_slice_metrics(rows: pl.DataFrame, score: str, ks: Sequence[int], seed: int,
                         probabilities: bool = True, resamples: int = BOOTSTRAP_RESAMPLES,
                         alpha: float = ALPHA) -> dict[str, dict[str, Any]]:
    """Every metric of ``ranking_metrics`` on labelled RANDOM ``rows``, with its interval or
    the reason it is not measurable."""
    y = rows.get_column("label").cast(pl.Float64).to_numpy()
    s = rows.get_column(score).cast(pl.Float64).to_numpy()
    n, positives = y.size, int(y.sum())
    names = ([f"{m}_at_{k}" for k in ks for m in ("precision", "recall", "lift")]
             + ["average_precision", "base_rate", "brier", "calibration_in_the_large",
                "auc_roc"])
    if n < MIN_RANDOM_LABELS:
        reason = (f"only {n} labelled RANDOM inspections on the held-out snapshots; at least "
                  f"{MIN_RANDOM_LABELS} are needed")
        return {name: not_measurable(reason, n, "too_few_random", minimum=MIN_RANDOM_LABELS)
                for name in names}
    out: dict[str, dict[str, Any]] = {}
    order = np.argsort(-s, kind="stable")
    booted: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {}
    for k in ks:
        hits = int(y[order[:k]].sum())
        if n < k:
            reason = f"only {n} labelled RANDOM inspections, fewer than k = {k}"
            for m in ("precision", "recall", "lift"):
                out[f"{m}_at_{k}"] = not_measurable(reason, n, "fewer_than_k", k=k)
            continue
        out[f"precision_at_{k}"] = proportion(hits, k, k, alpha=alpha,
                                              detail=f"{hits} of the top {k}")
        out[f"recall_at_{k}"] = (
            proportion(hits, positives, n, alpha=alpha,
                       detail=f"{hits} of {positives} violations in the top {k}")
            if positives else not_measurable("no violation among the RANDOM inspections", n,
                                             "no_violation"))
        booted[f"lift_at_{k}"] = _lift(k)
    if positives:
        booted["average_precision"] = average_precision
    else:
        out["average_precision"] = not_measurable(
            "no violation among the RANDOM inspections", n, "no_violation")
    out["base_rate"] = proportion(positives, n, alpha=alpha, detail=f"{positives} of {n}")
    if probabilities:
        booted["brier"] = lambda y_, s_: float(np.mean((s_ - y_) ** 2))
        booted["calibration_in_the_large"] = lambda y_, s_: float(s_.mean() - y_.mean())
    else:
        reason = "the scores are points, not probabilities"
        out["brier"] = out["calibration_in_the_large"] = not_measurable(
            reason, n, "not_probabilities")
    if 0 < positives < n:
        booted["auc_roc"] = _auc
    else:
        out["auc_roc"] = not_measurable("the RANDOM inspections hold only one outcome", n,
                                        "one_outcome")
    sponsors = rows.get_column("sponsor_id").to_numpy()
    out.update(bootstrap(booted, y, s, sponsors, seed, resamples, alpha))
    return {name: out[name] for name in names}


# --- calibration evidence --------------------------------------------------------------

def score_range_indices(scores: Any, edges: Sequence[float] = EVIDENCE_EDGES) -> np.ndarray:
    """Index of the range ``(edges[i], edges[i + 1]]`` holding each score (0 and below in
    the first, above the last edge in the last)."""
    found = np.searchsorted(np.asarray(edges, dtype=float),
                            np.asarray(scores, dtype=float), side="left") - 1
    return np.clip(found, 0, len(edges) - 2)


def calibration_evidence(predictions: pl.DataFrame, score: str = "score_xgboost",
                         min_inspected: int = MIN_EVIDENCE,
                         edges: Sequence[float] = EVIDENCE_EDGES,
                         alpha: float = ALPHA) -> dict[str, Any]:
    """Per score range: inspected snapshots and violations (RANDOM and all labelled), the
    observed rate with its exact interval and the mean predicted probability, on the
    ``basis`` the range's evidence suffices for: ``random`` where at least
    ``min_inspected`` RANDOM labels fall in it, else ``labelled`` (every inspection, mostly
    chosen by risk) where those suffice, else ``thin`` (no rate is given)."""
    labelled = predictions.filter(pl.col("label").is_not_null() & pl.col(score).is_not_null())
    labelled = labelled.with_columns(pl.Series(
        "range", score_range_indices(labelled[score].to_numpy(), edges), pl.Int64))
    ranges = []
    for i in range(len(edges) - 1):
        rows = labelled.filter(pl.col("range") == i)
        random = rows.filter(pl.col("selection") == "RANDOM")
        entry: dict[str, Any] = {
            "lo": edges[i], "hi": edges[i + 1],
            "random_inspected": random.height, "random_violations": int(random["label"].sum()),
            "labelled_inspected": rows.height, "labelled_violations": int(rows["label"].sum())}
        basis = ("random" if random.height >= min_inspected else
                 "labelled" if rows.height >= min_inspected else "thin")
        used = random if basis == "random" else rows
        entry.update(basis=basis, inspected=used.height, violations=int(used["label"].sum()),
                     mean_predicted=float(used[score].mean()) if used.height else None)
        if basis != "thin":
            lo, hi = binomial_interval(entry["violations"], used.height, "beta", alpha)
            entry.update(observed=entry["violations"] / used.height, observed_lo=float(lo[0]),
                         observed_hi=float(hi[0]))
        ranges.append(entry)
    return {"min_inspected": min_inspected, "edges": list(edges), "method": CLOPPER_PEARSON,
            "score": score, "ranges": ranges}


def evidence_range(evidence: dict[str, Any] | None, score: float) -> dict[str, Any] | None:
    """The range of a calibration evidence table that holds ``score`` (None without one)."""
    if not evidence or not evidence.get("ranges"):
        return None
    return evidence["ranges"][int(score_range_indices(score, evidence["edges"]))]


# --- all together ------------------------------------------------------------------------

def holdout_estimates(predictions: pl.DataFrame, ks: Sequence[int], seed: int,
                      model: str = "xgboost", resamples: int = BOOTSTRAP_RESAMPLES,
                      alpha: float = ALPHA) -> dict[str, Any]:
    """The RANDOM slice's metrics, the population violation rate and the calibration
    evidence of ``model`` on one fold's ``predictions`` (``sponsor_id, as_of, label,
    selection, score_<model>``, optionally ``inclusion_probability``), JSON-ready."""
    score = f"score_{model}"
    labelled = predictions.filter(pl.col("label").is_not_null())
    random = labelled.filter(pl.col("selection") == "RANDOM")
    metrics = random_slice_metrics(random, score, ks, seed, model != "crude_rule",
                                   resamples, alpha)
    has_design = "inclusion_probability" in predictions.columns
    with_design = (predictions.filter(pl.col("inclusion_probability").is_not_null())
                   if has_design else predictions.clear())
    if with_design.filter(pl.col("label").is_not_null()).height:
        population = design_weighted_rate(with_design, alpha)
    elif metrics["base_rate"]["measurable"]:
        population = {**metrics["base_rate"], "method": SIMPLE_RANDOM}
    else:
        population = {**metrics["base_rate"], "reason": "no inclusion probabilities known "
                      "and " + metrics["base_rate"]["reason"]}
    return {
        "model": model, "level": 1 - alpha, "ks": list(ks),
        "rows": {"holdout": predictions.height, "labelled": labelled.height,
                 "random_labelled": random.height,
                 "random_sponsors": random["sponsor_id"].n_unique(),
                 "with_inclusion_probability": with_design.height,
                 "labelled_with_inclusion_probability":
                     with_design.filter(pl.col("label").is_not_null()).height},
        "bootstrap": {"resamples": resamples, "seed": seed, "unit": "sponsor",
                      "interval": "percentile"},
        "metrics": metrics,
        "population_violation_rate": population,
        "calibration_evidence": calibration_evidence(predictions, score, alpha=alpha),
    }


def flat_metrics(estimates: dict[str, Any], prefix: str = "interval") -> dict[str, float]:
    """The measurable estimates as tracking-store metrics with ``.lo`` and ``.hi``:
    ``{prefix}.{model}.random.{metric}`` and ``{prefix}.population_violation_rate``."""
    entries = {f"{prefix}.{estimates['model']}.random.{name}": entry
               for name, entry in estimates.get("metrics", {}).items()}
    entries[f"{prefix}.population_violation_rate"] = estimates.get(
        "population_violation_rate", {})
    out: dict[str, float] = {}
    for key, entry in entries.items():
        if entry.get("measurable"):
            out.update({key: entry["estimate"], f"{key}.lo": entry["lo"],
                        f"{key}.hi": entry["hi"]})
    return out
