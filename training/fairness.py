"""Fairness audit of a risk ranking: group metrics, proxy check and bias scan.

This module is the ONLY code that reads the restricted field ``permits.nationality``, and it
reads it in exactly one place: :func:`load_restricted_attributes`. The groups it derives are
used to measure the ranking, never fed back into features or models.

What it measures, for the top ``k`` of a ranking (the sponsors an inspection plan would pick):

* per group (nationality mix of the sponsor's migrants, sector, size class, postcode area):
  share selected, precision, false-positive rate and false-discovery rate, each with a Wilson
  interval, against the inspection labels and, on simulated worlds, against the truth; and the
  ratio of each group's figure to the best-off group's (four-fifths rule);
* a proxy check: how well the model's features predict the nationality mix (cross-validated
  gradient boosting, balanced accuracy and AUC against chance, permutation importance);
* an unsupervised bias scan: bias-aware hierarchical clustering of the features (after
  Algorithm Audit's unsupervised-bias-detection) reporting clusters selected far more often
  than average, with their size and describing features;
* a gap attribution: for nationality-mix groups with a worse false-positive rate, the
  features whose contributions raise their honest sponsors' scores above the best-off
  group's (where the model's contributions are at hand).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

#: The restricted attribute, as the contract declares it; read only by this module.
RESTRICTED_TABLE, RESTRICTED_COLUMN = "permits", "nationality"

#: Groupings audited on every run. The first is derived from the restricted field.
RESTRICTED_GROUPING = "nationality_mix"
GROUPINGS: tuple[str, ...] = (RESTRICTED_GROUPING, "sector", "size_class", "postcode_area")

#: Outcome columns an audit population may carry: inspection labels and simulated truth.
OUTCOMES: tuple[str, ...] = ("label", "truth")

#: Metrics with a ratio to the best-off group; True where higher is better.
RATIO_METRICS: dict[str, bool] = {
    "selection_rate": False, "precision": True, "fpr": False, "fdr": False,
}

#: A dominant region needs more than this share of a sponsor's migrants, else "MIXED".
DOMINANT_SHARE = 0.5
UNKNOWN = "UNKNOWN"
Z_95 = 1.959963984540054

# UN M49 regions, coarsened to the groups that matter for labour migration to the Netherlands.
_REGION_CODES: dict[str, str] = {
    "SOUTH_ASIA": "IND PAK BGD LKA NPL BTN MDV AFG",
    "EAST_ASIA": "CHN JPN KOR PRK MNG TWN HKG MAC",
    "SOUTH_EAST_ASIA": "IDN PHL VNM THA MYS SGP MMR KHM LAO BRN TLS",
    "MIDDLE_EAST_NORTH_AFRICA": "TUR IRN IRQ SYR JOR LBN ISR PSE SAU ARE QAT KWT BHR OMN YEM "
                                "EGY MAR DZA TUN LBY SDN ESH",
    "SUB_SAHARAN_AFRICA": "NGA ZAF KEN ETH GHA UGA TZA CMR ZWE ZMB AGO MOZ SEN CIV MLI BFA NER "
                          "TCD SOM SSD ERI DJI RWA BDI COD COG GAB GNQ CAF BEN TGO GIN GNB SLE "
                          "LBR GMB MRT CPV STP NAM BWA LSO SWZ MWI MDG MUS SYC COM",
    "EUROPE_CENTRAL_ASIA_NON_EU": "GBR RUS UKR BLR CHE NOR ISL LIE SRB BIH MKD ALB MNE MDA GEO "
                                  "ARM AZE XKX AND MCO SMR VAT KAZ UZB KGZ TJK TKM",
    "EU_EEA": "AUT BEL BGR HRV CYP CZE DNK EST FIN FRA DEU GRC HUN IRL ITA LVA LTU LUX MLT NLD "
              "POL PRT ROU SVK SVN ESP SWE",
    "NORTH_AMERICA_OCEANIA": "USA CAN AUS NZL FJI PNG WSM TON VUT SLB KIR FSM MHL PLW NRU TUV",
    "LATIN_AMERICA_CARIBBEAN": "MEX BRA ARG COL CHL PER VEN ECU BOL PRY URY CUB DOM HTI JAM TTO "
                               "GTM HND SLV NIC CRI PAN BLZ GUY SUR BHS BRB LCA VCT GRD ATG DMA "
                               "KNA",
}
NATIONALITY_REGION: dict[str, str] = {
    code: region for region, codes in _REGION_CODES.items() for code in codes.split()}

# SBI 2008 sections by the first two digits (division) of the activity code.
_SBI_SECTIONS: tuple[tuple[int, int, str], ...] = (
    (1, 3, "A agriculture"), (5, 9, "B mining"), (10, 33, "C manufacturing"),
    (35, 35, "D energy"), (36, 39, "E water and waste"), (41, 43, "F construction"),
    (45, 47, "G trade"), (49, 53, "H transport"), (55, 56, "I hospitality"),
    (58, 63, "J information and communication"), (64, 66, "K finance"),
    (68, 68, "L real estate"), (69, 75, "M professional and scientific"),
    (77, 82, "N business support"), (84, 84, "O public administration"),
    (85, 85, "P education"), (86, 88, "Q health and social work"), (90, 93, "R culture"),
    (94, 96, "S other services"), (97, 98, "T households"), (99, 99, "U extraterritorial"),
)
SIZE_CLASSES: tuple[tuple[int, str], ...] = (
    (10, "1-9"), (50, "10-49"), (250, "50-249"), (10**9, "250+"))


# --------------------------------------------------------------------------------------------
# Groups


def restricted_attributes(permits: pl.LazyFrame, as_of: date | None = None) -> pl.LazyFrame:
    """Nationality mix of each sponsor's migrants, from the permits known on ``as_of``.

    Each migrant counts once per sponsor (latest application). Returns ``sponsor_id``,
    ``nationality_mix`` (the dominant region where it holds more than half of the migrants,
    else ``MIXED``), ``dominant_region``, ``dominant_region_share`` and ``migrants``.
    """
    known = permits.filter(pl.col(RESTRICTED_COLUMN).is_not_null())
    if as_of is not None:
        known = known.filter(pl.col("submitted_on") <= as_of)
    migrants = (
        known.sort("submitted_on")
        .group_by("sponsor_id", "person_key").agg(pl.col(RESTRICTED_COLUMN).last())
        .with_columns(region=pl.col(RESTRICTED_COLUMN).replace_strict(
            NATIONALITY_REGION, default="OTHER", return_dtype=pl.String))
    )
    per_region = migrants.group_by("sponsor_id", "region").agg(count=pl.len())
    return (
        per_region.sort(["sponsor_id", "count", "region"], descending=[False, True, False])
        .group_by("sponsor_id", maintain_order=True)
        .agg(dominant_region=pl.col("region").first(),
             dominant_count=pl.col("count").first(), migrants=pl.col("count").sum())
        .with_columns(dominant_region_share=pl.col("dominant_count") / pl.col("migrants"))
        .with_columns(**{RESTRICTED_GROUPING: pl.when(
            pl.col("dominant_region_share") > DOMINANT_SHARE).then(pl.col("dominant_region"))
            .otherwise(pl.lit("MIXED"))})
        .select("sponsor_id", RESTRICTED_GROUPING, "dominant_region",
                "dominant_region_share", "migrants")
    )


def load_restricted_attributes(warehouse_dir: Path, as_of: date | None = None) -> pl.DataFrame:
    """Read ``permits.nationality`` (the restricted field) and return each sponsor's
    nationality mix. The one function in the code base that reads the restricted field.

    Raises:
        FileNotFoundError: naming the file when the warehouse has no permits table.
    """
    path = Path(warehouse_dir) / f"{RESTRICTED_TABLE}.parquet"
    if not path.exists():
        raise FileNotFoundError(f"{path}: no permits table; the fairness audit needs it")
    permits = pl.scan_parquet(path).select(
        "sponsor_id", "person_key", "submitted_on", RESTRICTED_COLUMN)
    return restricted_attributes(permits, as_of).collect()


def sbi_section(sbi_code: pl.Expr) -> pl.Expr:
    """SBI 2008 section (letter and short name) of an activity code."""
    division = sbi_code.str.slice(0, 2).cast(pl.Int32, strict=False)
    expr: pl.Expr = pl.lit(UNKNOWN)
    for low, high, name in reversed(_SBI_SECTIONS):
        expr = pl.when(division.is_between(low, high)).then(pl.lit(name)).otherwise(expr)
    return expr


def audit_groups(tables: Mapping[str, pl.LazyFrame], as_of: date) -> pl.LazyFrame:
    """Unrestricted audit groups per sponsor: ``sector`` (SBI section), ``size_class`` (latest
    headcount filed on or before ``as_of``) and ``postcode_area`` (first postcode digit)."""
    sponsors = tables["sponsors"].select(
        "sponsor_id",
        sector=sbi_section(pl.col("sbi_code")),
        postcode_area=pl.col("postcode4").str.slice(0, 1).fill_null(UNKNOWN))
    if "workforce" in tables:
        headcount = (
            tables["workforce"]
            .filter((pl.col("filed_on") <= as_of) & (pl.col("period") <= as_of))
            .sort("period", "filed_on")
            .group_by("sponsor_id").agg(headcount=pl.col("headcount").last()))
        sponsors = sponsors.join(headcount, on="sponsor_id", how="left")
    else:
        sponsors = sponsors.with_columns(headcount=pl.lit(None, dtype=pl.Int64))
    size: pl.Expr = pl.lit(UNKNOWN)
    for upper, name in reversed(SIZE_CLASSES):
        size = pl.when(pl.col("headcount") < upper).then(pl.lit(name)).otherwise(size)
    return sponsors.with_columns(size_class=pl.when(pl.col("headcount").is_null())
                                 .then(pl.lit(UNKNOWN)).otherwise(size)).drop("headcount")


# --------------------------------------------------------------------------------------------
# Rates, intervals, ratios


def wilson_interval(successes: float, trials: float, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion; (nan, nan) when there are no trials."""
    if trials <= 0:
        return (math.nan, math.nan)
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return (0.0 if successes == 0 else max(0.0, centre - half),
            1.0 if successes == trials else min(1.0, centre + half))


def _wilson_exprs(successes: str, trials: str, name: str, z: float = Z_95) -> list[pl.Expr]:
    n = pl.col(trials).cast(pl.Float64)
    p = pl.col(successes) / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * (p * (1 - p) / n + z * z / (4 * n * n)).sqrt() / denominator
    valid = n > 0
    return [
        pl.when(valid).then(p).alias(name),
        pl.when(valid & (p == 0)).then(0.0).when(valid).then((centre - half).clip(0.0, 1.0))
        .alias(f"{name}_lo"),
        pl.when(valid & (p == 1)).then(1.0).when(valid).then((centre + half).clip(0.0, 1.0))
        .alias(f"{name}_hi"),
    ]


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
    exprs = _wilson_exprs("selected", "sponsors", "selection_rate")
    counts: dict[str, tuple[str, str, bool]] = {
        "selection_rate": ("selected", "sponsors", RATIO_METRICS["selection_rate"])}
    for o in outcomes:
        for base, (hits, trials) in _metric_counts(o).items():
            exprs += _wilson_exprs(hits, trials, f"{base}_{o}")
            counts[f"{base}_{o}"] = (hits, trials, RATIO_METRICS[base])
    table = table.with_columns(exprs)
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


# --------------------------------------------------------------------------------------------
# Proxy check

#: Held-out rows the permutation importances are measured on: enough to rank the proxies,
#: few enough that 3 repeats of every feature stay cheap on a 12,000-sponsor world.
PROXY_IMPORTANCE_ROWS = 2_000


def _feature_matrix(features: pl.DataFrame, feature_names: Sequence[str]) -> np.ndarray:
    return features.select([pl.col(n).cast(pl.Float64) for n in feature_names]).to_numpy()


def proxy_check(features: pl.DataFrame, feature_names: Sequence[str], attribute: pl.Series,
                seed: int = 42, folds: int = 3, min_class_size: int = 30,
                top: int = 5, descriptions: Mapping[str, str] | None = None) -> dict[str, Any]:
    """How well the model's features predict the restricted attribute.

    A gradient-boosting classifier is cross-validated (stratified ``folds``) on the features;
    classes smaller than ``min_class_size`` are merged into ``OTHER`` and unknown rows dropped.
    Reports balanced accuracy and macro one-vs-rest AUC against chance (1 / classes and 0.5),
    per-class AUC, and the strongest proxies by permutation importance on the first
    held-out fold (at most :data:`PROXY_IMPORTANCE_ROWS` of its rows), with that fold's model.
    """
    import sklearn.ensemble  # noqa: F401 - load OpenMP before limiting it
    from threadpoolctl import threadpool_limits

    # Small fits on a shared machine: OpenMP threads cost more in contention than they gain.
    with threadpool_limits(limits=1):
        return _proxy_check(features, feature_names, attribute, seed, folds, min_class_size,
                            top, descriptions or {})


def _proxy_check(features: pl.DataFrame, feature_names: Sequence[str], attribute: pl.Series,
                 seed: int, folds: int, min_class_size: int, top: int,
                 descriptions: Mapping[str, str]) -> dict[str, Any]:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.inspection import permutation_importance
    from sklearn.metrics import balanced_accuracy_score, roc_auc_score

    y_raw = attribute.fill_null(UNKNOWN).to_numpy().astype(str)
    known = y_raw != UNKNOWN
    names, counts = np.unique(y_raw[known], return_counts=True)
    small = set(names[counts < min_class_size])
    y_all = np.where(np.isin(y_raw, list(small)), "OTHER", y_raw)
    x, y = _feature_matrix(features, feature_names)[known], y_all[known]
    classes, class_counts = np.unique(y, return_counts=True)
    result: dict[str, Any] = {
        "attribute": RESTRICTED_GROUPING, "sponsors": int(known.sum()),
        "classes": {str(c): int(n) for c, n in zip(classes, class_counts, strict=True)},
        "folds": folds,
    }
    if len(classes) < 2 or class_counts.min() < folds:
        result["skipped"] = "fewer than two classes with enough sponsors"
        return result

    def model() -> HistGradientBoostingClassifier:
        return HistGradientBoostingClassifier(max_iter=60, learning_rate=0.15, max_leaf_nodes=15,
                                              class_weight="balanced", random_state=seed)

    proba, first_fold = _cross_validated_proba(model, x, y, folds, seed)
    predicted = classes[proba.argmax(axis=1)]
    balanced_accuracy = float(balanced_accuracy_score(y, predicted))
    if len(classes) == 2:
        auc = float(roc_auc_score(y == classes[1], proba[:, 1]))
        per_class = {str(classes[1]): auc, str(classes[0]): auc}
    else:
        auc = float(roc_auc_score(y, proba, multi_class="ovr", average="macro"))
        per_class = {str(c): float(roc_auc_score(y == c, proba[:, i]))
                     for i, c in enumerate(classes)}
    fitted, test_idx = first_fold
    importance = permutation_importance(fitted, x[test_idx], y[test_idx],
                                        scoring="balanced_accuracy", n_repeats=3,
                                        max_samples=min(len(test_idx), PROXY_IMPORTANCE_ROWS),
                                        random_state=seed)
    order = np.argsort(-importance.importances_mean)[:top]
    result.update({
        "balanced_accuracy": balanced_accuracy,
        "balanced_accuracy_chance": 1.0 / len(classes),
        "auc_macro": auc, "auc_chance": 0.5,
        "auc_per_class": per_class,
        "strongest_proxies": [
            {"feature": feature_names[i],
             "description": descriptions.get(feature_names[i], ""),
             "balanced_accuracy_drop": float(importance.importances_mean[i]),
             "std": float(importance.importances_std[i])}
            for i in order],
    })
    return result


def _cross_validated_proba(model: Callable[[], Any], x: np.ndarray, y: np.ndarray, folds: int,
                           seed: int) -> tuple[np.ndarray, tuple[Any, np.ndarray]]:
    """Out-of-fold class probabilities, and the first fold's model with its held-out rows
    (reused for the importances rather than fitting once more)."""
    from sklearn.model_selection import StratifiedKFold

    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    proba = np.zeros((len(y), len(np.unique(y))))
    first_fold: tuple[Any, np.ndarray] | None = None
    for train_idx, test_idx in cv.split(x, y):
        fitted = model().fit(x[train_idx], y[train_idx])
        proba[test_idx] = fitted.predict_proba(x[test_idx])
        first_fold = first_fold or (fitted, test_idx)
    assert first_fold is not None
    return proba, first_fold


# --------------------------------------------------------------------------------------------
# Bias scan


def bias_scan(features: pl.DataFrame, feature_names: Sequence[str], selected: np.ndarray,
              seed: int = 42, max_clusters: int = 8, min_cluster_share: float = 0.02,
              flag_ratio: float = 2.0, alpha: float = 0.05, top_features: int = 3,
              descriptions: Mapping[str, str] | None = None,
              groups: pl.DataFrame | None = None) -> dict[str, Any]:
    """Bias-aware hierarchical clustering of who lands in the top k.

    Starting from one cluster, the cluster with the highest selection rate that can still be
    split is bisected with k-means (on standardised, median-imputed features) as long as both
    halves keep at least ``min_cluster_share`` of the sponsors, up to ``max_clusters``.
    Clusters selected at least ``flag_ratio`` times the average rate, significantly against
    the rest, are flagged, with the features that set them apart (largest standardised mean
    difference) and, where ``groups`` is given, the mix of each group column in the cluster.
    """
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return _bias_scan(KMeans, features, feature_names, selected, seed, max_clusters,
                          min_cluster_share, flag_ratio, alpha, top_features, descriptions or {},
                          groups)


def _bias_scan(kmeans: Any, features: pl.DataFrame, feature_names: Sequence[str],
               selected: np.ndarray, seed: int, max_clusters: int, min_cluster_share: float,
               flag_ratio: float, alpha: float, top_features: int,
               descriptions: Mapping[str, str], groups: pl.DataFrame | None) -> dict[str, Any]:
    raw = _feature_matrix(features, feature_names)
    medians = np.nanmedian(np.where(np.isfinite(raw), raw, np.nan), axis=0)
    medians = np.where(np.isnan(medians), 0.0, medians)
    filled = np.where(np.isfinite(raw), raw, medians)
    centre, spread = filled.mean(axis=0), filled.std(axis=0)
    spread = np.where(spread > 0, spread, 1.0)
    standardised = (filled - centre) / spread
    selected = np.asarray(selected, dtype=bool)
    n = len(selected)
    min_size = max(2, int(math.ceil(min_cluster_share * n)))
    labels = np.zeros(n, dtype=int)
    unsplittable: set[int] = set()
    while labels.max() + 1 < max_clusters:
        candidates = [c for c in range(labels.max() + 1) if c not in unsplittable
                      and (labels == c).sum() >= 2 * min_size]
        if not candidates:
            break
        target = max(candidates, key=lambda c: (selected[labels == c].mean(), -c))
        members = np.flatnonzero(labels == target)
        halves = kmeans(n_clusters=2, n_init=5, random_state=seed).fit_predict(
            standardised[members])
        if min((halves == 0).sum(), (halves == 1).sum()) < min_size:
            unsplittable.add(target)
            continue
        labels[members[halves == 1]] = labels.max() + 1
    overall = float(selected.mean()) if n else math.nan
    clusters: list[dict[str, Any]] = []
    for c in range(labels.max() + 1):
        inside = labels == c
        size, hits = int(inside.sum()), int(selected[inside].sum())
        rest_n, rest_hits = n - size, int(selected.sum()) - hits
        rate = hits / size
        lo, hi = wilson_interval(hits, size)
        diffs = standardised[inside].mean(axis=0)
        order = np.argsort(-np.abs(diffs))[:top_features]
        cluster: dict[str, Any] = {
            "cluster": c, "sponsors": size, "share_of_sponsors": size / n,
            "selected": hits, "selection_rate": rate, "selection_rate_lo": lo,
            "selection_rate_hi": hi,
            "ratio_to_average": (rate / overall) if overall > 0 else math.nan,
            "p_value_vs_rest": one_sided_p_value(hits, size, rest_hits, rest_n),
            "describing_features": [
                {"feature": feature_names[i], "description": descriptions.get(feature_names[i], ""),
                 "cluster_mean": float(filled[inside, i].mean()),
                 "overall_mean": float(centre[i]), "standardised_difference": float(diffs[i])}
                for i in order],
        }
        cluster["flagged"] = bool(cluster["ratio_to_average"] >= flag_ratio
                                  and cluster["p_value_vs_rest"] < alpha)
        if groups is not None:
            cluster["group_mix"] = {
                col: _shares(groups[col].filter(pl.Series(inside)))
                for col in groups.columns if col != "sponsor_id"}
        clusters.append(cluster)
    clusters.sort(key=lambda c: -c["selection_rate"])
    return {"method": "bias-aware hierarchical k-means bisection on standardised features",
            "sponsors": n, "selected": int(selected.sum()), "average_selection_rate": overall,
            "flag_ratio": flag_ratio, "alpha": alpha, "clusters": clusters,
            "flagged_clusters": [c["cluster"] for c in clusters if c["flagged"]]}


def _shares(values: pl.Series) -> dict[str, float]:
    counts = values.fill_null(UNKNOWN).value_counts(sort=True)
    total = counts["count"].sum()
    return {str(v): c / total for v, c in counts.iter_rows()} if total else {}


# --------------------------------------------------------------------------------------------
# The audit


@dataclass
class FairnessAudit:
    """Everything one audit measured; JSON-ready through :meth:`to_dict`."""

    as_of: date | None
    k: int
    sponsors: int
    min_ratio: float
    groups: dict[str, pl.DataFrame]
    proxy: dict[str, Any]
    bias_scan: dict[str, Any]
    breaches: list[Breach] = field(default_factory=list)
    gate_metric: str = "fpr_label"
    gap_attribution: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.breaches

    def metrics(self) -> dict[str, float]:
        """Flat numeric summary, for MLflow metrics and the promotion gate."""
        out: dict[str, float] = {"fairness_breaches": float(len(self.breaches))}
        for grouping, table in self.groups.items():
            for column in table.columns:
                if column.endswith("_ratio"):
                    values = table[column].drop_nulls()
                    if len(values):
                        out[f"fairness_{grouping}_{column}_min"] = float(values.min())
        for key in ("balanced_accuracy", "balanced_accuracy_chance", "auc_macro"):
            if key in self.proxy:
                out[f"proxy_{key}"] = float(self.proxy[key])
        out["bias_scan_flagged_clusters"] = float(len(self.bias_scan.get("flagged_clusters", [])))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "as_of": None if self.as_of is None else self.as_of.isoformat(),
            "k": self.k, "sponsors": self.sponsors, "min_ratio": self.min_ratio,
            "gate_metric": self.gate_metric, "passed": self.passed,
            "breaches": [b.describe() for b in self.breaches],
            "groups": {g: t.to_dicts() for g, t in self.groups.items()},
            "proxy_check": self.proxy, "bias_scan": self.bias_scan,
            "gap_attribution": self.gap_attribution, "metrics": self.metrics(),
        }

    def to_markdown(self) -> str:
        return audit_markdown(self.to_dict())

    def write(self, folder: Path) -> list[Path]:
        """Write ``fairness_audit.json``, ``fairness_audit.md`` and one CSV per grouping."""
        from sponsorwatch.storage import write_json_atomic, write_text_atomic

        folder.mkdir(parents=True, exist_ok=True)
        written = [folder / "fairness_audit.json", folder / "fairness_audit.md"]
        write_json_atomic(json_safe(self.to_dict()), written[0])
        write_text_atomic(self.to_markdown(), written[1])
        for grouping, table in self.groups.items():
            path = folder / f"fairness_{grouping}.csv"
            write_text_atomic(table.write_csv(), path)
            written.append(path)
        return written


def json_safe(value: Any) -> Any:
    """``value`` with NaN and infinity as None and numpy scalars as Python ones (strict JSON)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        return json_safe(value.item())
    return value


def _pct(value: float | None) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) \
        else f"{100 * value:.1f}%"


def _ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def audit_markdown(audit: Mapping[str, Any]) -> str:
    """A readable report of an audit (as returned by :meth:`FairnessAudit.to_dict`)."""
    lines = [f"# Fairness audit (top {audit['k']} of {audit['sponsors']} sponsors"
             + (f", as of {audit['as_of']})" if audit.get("as_of") else ")"), "",
             f"Gate: {audit['gate_metric']} ratio to the best-off group of "
             f"{RESTRICTED_GROUPING} at least {audit['min_ratio']:.2f} (or not significant): "
             f"**{'passed' if audit['passed'] else 'REFUSED'}**", ""]
    lines += [f"- {b}" for b in audit.get("breaches", [])]
    for grouping, rows in audit["groups"].items():
        lines += ["", f"## By {grouping.replace('_', ' ')}", ""]
        outcomes = [o for o in OUTCOMES if rows and f"precision_{o}" in rows[0]]
        header = ["group", "sponsors", "selected", "share selected (95% CI)", "ratio"]
        for o in outcomes:
            header += [f"precision ({o})", f"FPR ({o})", f"FPR ratio ({o})", f"FDR ({o})"]
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for r in rows:
            cells = [str(r[grouping]), str(r["sponsors"]), str(r["selected"]),
                     f"{_pct(r['selection_rate'])} ({_pct(r['selection_rate_lo'])}–"
                     f"{_pct(r['selection_rate_hi'])})", _ratio(r["selection_rate_ratio"])]
            for o in outcomes:
                cells += [_pct(r[f"precision_{o}"]),
                          f"{_pct(r[f'fpr_{o}'])} ({_pct(r[f'fpr_{o}_lo'])}–"
                          f"{_pct(r[f'fpr_{o}_hi'])})",
                          _ratio(r[f"fpr_{o}_ratio"]), _pct(r[f"fdr_{o}"])]
            lines.append("| " + " | ".join(cells) + " |")
    proxy = audit.get("proxy_check", {})
    lines += ["", "## Proxy check", ""]
    if "balanced_accuracy" in proxy:
        lines += [f"Features predict {RESTRICTED_GROUPING} ({len(proxy['classes'])} classes, "
                  f"{proxy['sponsors']} sponsors, {proxy['folds']}-fold CV): balanced accuracy "
                  f"{proxy['balanced_accuracy']:.3f} (chance "
                  f"{proxy['balanced_accuracy_chance']:.3f}), macro AUC "
                  f"{proxy['auc_macro']:.3f} (chance 0.5).", "",
                  "Strongest proxies (drop in balanced accuracy when permuted):", ""]
        lines += [f"- `{p['feature']}` {p['balanced_accuracy_drop']:.3f} ± {p['std']:.3f}"
                  + (f": {p['description']}" if p["description"] else "")
                  for p in proxy["strongest_proxies"]]
    else:
        lines.append(f"Skipped: {proxy.get('skipped', 'no data')}")
    lines += _gap_markdown(audit.get("gap_attribution", {}))
    scan = audit.get("bias_scan", {})
    lines += ["", "## Bias scan", "",
              f"{scan.get('method', '')}; average selection rate "
              f"{_pct(scan.get('average_selection_rate'))}.", "",
              "| cluster | sponsors | selected | rate (95% CI) | × average | flagged | "
              "describing features |", "|---|---|---|---|---|---|---|"]
    for c in scan.get("clusters", []):
        described = "; ".join(f"{f['feature']} {f['standardised_difference']:+.1f} sd"
                              for f in c["describing_features"])
        lines.append(f"| {c['cluster']} | {c['sponsors']} | {c['selected']} | "
                     f"{_pct(c['selection_rate'])} ({_pct(c['selection_rate_lo'])}–"
                     f"{_pct(c['selection_rate_hi'])}) | {c['ratio_to_average']:.1f} | "
                     f"{'yes' if c['flagged'] else 'no'} | {described} |")
    return "\n".join(lines) + "\n"


def _gap_markdown(gap: Mapping[str, Any]) -> list[str]:
    lines = ["", f"## Where the {RESTRICTED_GROUPING.replace('_', ' ')} FPR gap comes from", ""]
    if "groups" not in gap:
        return lines + [f"Skipped: {gap.get('skipped', 'not computed')}"]
    metric = f"fpr_{gap['outcome']}"
    lines += [f"Non-abusive sponsors ({gap['outcome']}) of each worse-off group against the "
              f"best-off group {gap['reference_group']} ({gap['reference_negatives']}): "
              f"{gap['method']}.", "",
              "| group | non-abusive | FPR ratio | score gap | features raising it most |",
              "|---|---|---|---|---|"]
    for g in gap["groups"]:
        raising = "; ".join(f"{f['feature']} +{f['gap']:.2f}" for f in g["features"])
        lines.append(f"| {g['group']} | {g['negatives']} | {_ratio(g[f'{metric}_ratio'])} | "
                     f"{g['margin_gap']:+.2f} | {raising} |")
    return lines


def audit_population(predictions: pl.DataFrame, k: int, groups: pl.DataFrame,
                     restricted: pl.DataFrame) -> pl.DataFrame:
    """One row per scored sponsor: ``selected`` (top k), outcomes and every grouping."""
    mask = top_k_mask(predictions["score"].to_numpy(), predictions["sponsor_id"].to_list(), k)
    # An outcome column without a single known value (no truth on real data) is left out.
    outcomes = [o for o in OUTCOMES if o in predictions.columns
                and predictions[o].null_count() < predictions.height]
    frame = predictions.select("sponsor_id", "score", *outcomes).with_columns(
        pl.Series("selected", mask), *[pl.col(o).cast(pl.Int8) for o in outcomes])
    frame = frame.join(groups, on="sponsor_id", how="left").join(
        restricted.select("sponsor_id", RESTRICTED_GROUPING), on="sponsor_id", how="left")
    return frame.with_columns(pl.col(g).fill_null(UNKNOWN) for g in GROUPINGS)


def run_fairness_audit(predictions: pl.DataFrame, features: pl.DataFrame,
                       feature_names: Sequence[str], tables: Mapping[str, pl.LazyFrame],
                       restricted: pl.DataFrame, k: int, as_of: date | None = None,
                       min_ratio: float = 0.8, seed: int = 42, min_support: int = 20,
                       min_expected: float = 5.0, alpha: float = 0.05,
                       descriptions: Mapping[str, str] | None = None,
                       contributions: pl.DataFrame | None = None) -> FairnessAudit:
    """Audit a ranking of one snapshot.

    Args:
        predictions: ``sponsor_id``, ``score``, and ``label`` (Int8, null unknown) and, on
            simulated worlds, ``truth`` (1 abusive, 0 not).
        features: ``sponsor_id`` and the model's feature columns, for the same sponsors.
        feature_names: the model's features (never the restricted field).
        tables: warehouse tables (``sponsors``, ``workforce``) for the unrestricted groups.
        restricted: from :func:`load_restricted_attributes`.
        k: size of the top (inspection capacity).
        min_ratio: four-fifths bound of the promotion gate on the FPR of the top k.
        contributions: ``sponsor_id`` and the model's contribution of each feature to each
            score, for :func:`gap_attribution` (left out where None).
    """
    forbidden = {RESTRICTED_COLUMN, RESTRICTED_GROUPING} & {n.lower() for n in feature_names}
    if forbidden:
        raise ValueError(f"feature list contains the restricted field(s) {sorted(forbidden)}")
    when = as_of or (predictions["as_of"].max() if "as_of" in predictions.columns else None)
    groups = audit_groups(tables, when or date.max).collect()
    population = audit_population(predictions, k, groups, restricted)
    tables_out = {g: group_metrics(population, g, min_support, min_expected)
                  for g in GROUPINGS}
    aligned = population.select("sponsor_id", "selected", *GROUPINGS).join(
        features.select("sponsor_id", *feature_names), on="sponsor_id", how="left")
    proxy = proxy_check(aligned, feature_names, aligned[RESTRICTED_GROUPING], seed=seed,
                        descriptions=descriptions)
    scan = bias_scan(aligned, feature_names, aligned["selected"].to_numpy(), seed=seed,
                     descriptions=descriptions, groups=aligned.select(*GROUPINGS))
    # The gate reads labels only, never a simulated truth: it must judge a real extract
    # the same way (the truth-based figures are reported beside it).
    gate_metric = "fpr_label"
    breaches = disparity_breaches(tables_out, gate_metric, min_ratio, alpha)
    attribution = _attribute_gap(population, contributions, feature_names,
                                 tables_out[RESTRICTED_GROUPING], min_support, descriptions)
    return FairnessAudit(as_of=when, k=k, sponsors=population.height, min_ratio=min_ratio,
                         groups=tables_out, proxy=proxy, bias_scan=scan, breaches=breaches,
                         gate_metric=gate_metric, gap_attribution=attribution)


def _attribute_gap(population: pl.DataFrame, contributions: pl.DataFrame | None,
                   feature_names: Sequence[str], groups: pl.DataFrame, min_support: int,
                   descriptions: Mapping[str, str] | None) -> dict[str, Any]:
    """:func:`gap_attribution` against the truth where a simulated world has one, else
    against the labels."""
    if contributions is None:
        return {"skipped": "no model contributions given"}
    known = [o for o in reversed(OUTCOMES) if o in population.columns]
    if not known:
        return {"skipped": "no outcome known"}
    return gap_attribution(population, contributions, feature_names, groups, known[0],
                           min_support=min_support, descriptions=descriptions)


def log_fairness_audit(audit: FairnessAudit, mlflow_client: Any, run_id: str,
                       artifact_path: str = "fairness") -> None:
    """Log the audit's metrics and reports to a run through an ``MlflowClient`` (no
    process-wide MLflow state is touched)."""
    import tempfile
    import time

    from mlflow.entities import Metric

    stamp = int(time.time() * 1000)
    metrics = [Metric(key, value, stamp, 0) for key, value in audit.metrics().items()
               if math.isfinite(value)]
    metrics.append(Metric("fairness_gate_passed", float(audit.passed), stamp, 0))
    mlflow_client.log_batch(run_id, metrics=metrics)
    with tempfile.TemporaryDirectory() as tmp:
        audit.write(Path(tmp))
        mlflow_client.log_artifacts(run_id, tmp, artifact_path=artifact_path)


def read_audit(path: Path) -> dict[str, Any]:
    """Read an audit written by :meth:`FairnessAudit.write` (its JSON)."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


# --------------------------------------------------------------------------------------------
# Promotion gate

AUDIT_ARTIFACT = "fairness/fairness_audit.json"


def read_run_audit(settings: Any, run_id: str) -> dict[str, Any] | None:
    """The fairness audit logged by a training run, or None when it logged none."""
    import tempfile

    from mlflow.exceptions import MlflowException

    from training.registry import client

    try:
        with tempfile.TemporaryDirectory() as tmp:
            return read_audit(Path(client(settings).download_artifacts(
                run_id, AUDIT_ARTIFACT, dst_path=tmp)))
    except (MlflowException, OSError):
        return None


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


def audit_breaches(audit: Mapping[str, Any], min_ratio: float,
                   alpha: float = 0.05) -> list[Breach]:
    """Breaches of a stored audit under the bound and rules in force now (not those at
    training)."""
    return disparity_breaches(ratio_tables(audit), audit.get("gate_metric", "fpr_label"),
                              min_ratio, alpha)


def fairness_gate(ctx: Any) -> Any:
    """Promotion gate: the challenger's false-positive rate in the top k may not fall below
    ``settings.fairness_min_ratio`` times the best-off nationality-mix group's (four-fifths
    rule), where the difference is significant. Reads the audit its training run logged."""
    from training.registry import GateResult

    run_id = ctx.challenger.info.get("run_id")
    bound = ctx.settings.fairness_min_ratio
    audit = read_run_audit(ctx.settings, run_id) if run_id else None
    if audit is None:
        return GateResult("fairness", False,
                          f"run {run_id} logged no fairness audit; retrain the challenger",
                          {"min_ratio": bound})
    tables = ratio_tables(audit)
    metric = audit.get("gate_metric", "fpr_label")
    breaches = disparity_breaches(tables, metric, bound)
    restricted = tables.get(RESTRICTED_GROUPING)
    known = ([] if restricted is None or f"{metric}_ratio" not in restricted.columns
             else restricted[f"{metric}_ratio"].drop_nulls().to_list())
    numbers = {"metric": metric, "min_ratio": bound, "k": audit.get("k"),
               "lowest_ratio": min(known) if known else None,
               "breaches": [b.describe() for b in breaches]}
    if breaches:
        return GateResult("fairness", False,
                          f"{metric} of the top {audit.get('k')} differs between "
                          f"{RESTRICTED_GROUPING} groups beyond the bound {bound:.2f}: "
                          + "; ".join(b.describe() for b in breaches), numbers)
    lowest = "n/a (no group with enough support)" if not known else f"{min(known):.2f}"
    return GateResult("fairness", True,
                      f"{metric} ratio between {RESTRICTED_GROUPING} groups: lowest {lowest} "
                      f"(bound {bound:.2f}, breaches only where significant)", numbers)


# --------------------------------------------------------------------------------------------
# Monitoring: the audit of a score snapshot in use


def audit_score_snapshot(settings: Any, as_of: date | None = None, k: int | None = None,
                         truth_path: Path | None = None) -> tuple[FairnessAudit, Path]:
    """Audit a stored score snapshot against the labels of the horizon after it (and the
    truth of a simulated world where there is one); write the report under
    ``<reports>/fairness/as_of=DATE/``.

    Raises:
        FileNotFoundError: when there is no score snapshot or warehouse.
    """
    from features.registry import FEATURES
    from sponsorwatch.storage import scan_warehouse
    from training.plan import load_score_snapshot
    from training.scoring import SCORE_COLUMNS

    scores, day = load_score_snapshot(settings.scores_dir, as_of)
    tables = scan_warehouse(settings.warehouse_dir)
    feature_names = [c for c in scores.columns if c not in SCORE_COLUMNS]
    predictions = snapshot_predictions(settings, scores, day, tables, truth_path)
    audit = run_fairness_audit(
        predictions, scores, feature_names, tables,
        load_restricted_attributes(settings.warehouse_dir, day),
        k=k or settings.inspection_capacity, as_of=day, min_ratio=settings.fairness_min_ratio,
        seed=settings.seed,
        descriptions={n: FEATURES[n].description for n in feature_names if n in FEATURES},
        contributions=_snapshot_contributions(settings, scores, feature_names))
    folder = settings.reports_dir / "fairness" / f"as_of={day.isoformat()}"
    audit.write(folder)
    return audit, folder


def snapshot_predictions(settings: Any, scores: pl.DataFrame, day: date,
                         tables: Mapping[str, pl.LazyFrame],
                         truth_path: Path | None = None) -> pl.DataFrame:
    """A score snapshot as :func:`run_fairness_audit` takes it: ``sponsor_id``, ``score``,
    ``as_of``, the ``label`` of the horizon after it (where there are inspections) and the
    ``truth`` of a simulated world (where there is one)."""
    from training.evaluation import find_truth, load_truth, truth_targets
    from training.labels import build_labels

    predictions = scores.select("sponsor_id", "score", pl.lit(day).alias("as_of"))
    if "inspections" in tables:
        labels = build_labels(tables["inspections"], [day], settings.horizon_months).collect()
        predictions = predictions.join(labels.select("sponsor_id", "label"), on="sponsor_id",
                                       how="left")
    truth_file = find_truth(settings.warehouse_dir, truth_path)
    if truth_file is not None:
        predictions = predictions.with_columns(pl.Series(
            "truth", truth_targets(load_truth(truth_file), predictions)).cast(pl.Int8))
    return predictions


def contributions_frame(model: Any, frame: pl.DataFrame) -> pl.DataFrame:
    """``sponsor_id`` and a RiskModel's SHAP contribution of each feature to each row's
    score (its bias column left out): the ``contributions`` of :func:`run_fairness_audit`."""
    names = list(model.feature_names)
    values = model.contributions(frame)[:, :len(names)]
    return pl.DataFrame(values, schema=names, orient="row").with_columns(frame["sponsor_id"])


def _snapshot_contributions(settings: Any, scores: pl.DataFrame,
                            feature_names: Sequence[str]) -> pl.DataFrame | None:
    """The champion's SHAP contributions to a snapshot's scores, where the champion is the
    version that scored it (else None: another model's reasons would explain nothing)."""
    from training.registry import load_model

    try:
        model, info = load_model(settings)
    except LookupError:
        return None
    versions = scores["model_version"].cast(pl.String).unique().to_list() \
        if "model_version" in scores.columns else []
    if versions != [str(info["version"])] or list(model.feature_names) != list(feature_names):
        return None
    return contributions_frame(model, scores)
