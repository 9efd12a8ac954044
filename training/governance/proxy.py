"""How far the model's features stand in for the restricted attribute (proxy check), and
an unsupervised bias scan of who the ranking selects.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from training.governance.disparity import one_sided_p_value, wilson_interval
from training.governance.groups import RESTRICTED_GROUPING, UNKNOWN

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
