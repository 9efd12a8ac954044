"""What the outcomes that have arrived say about the served scores: precision at k and
calibration on RANDOM inspections, with intervals, and how long outcomes take to arrive.

The labels are the contract's (``training.fitting.labels.build_labels``): for a score
snapshot as of T, inspections opened in (T, T+H], each as its latest version recorded by the
monitoring day, so an outcome not yet recorded is unknown, never a 0. Only RANDOM
inspections are an unbiased sample of the scored population, so only they are measured
(``training.fitting.intervals``: exact Clopper-Pearson intervals for precision at k and the
observed rates, a bootstrap over sponsors for Brier score and calibration in the large, the
calibration evidence per score range). With few RANDOM outcomes (the usual case in the first
months) a metric says why it is not measurable instead of giving a number.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import polars as pl

#: Bootstrap resamples for the monitor's intervals (fewer than training's 1,000: they run
#: every snapshot, and the exact intervals carry the headline figures).
RESAMPLES = 200


def random_outcomes(scores: pl.DataFrame, inspections: pl.LazyFrame | pl.DataFrame,
                    as_of: dt.date, horizon_months: int) -> pl.DataFrame:
    """The score rows (``sponsor_id, as_of, score``) of every snapshot in ``scores`` whose
    sponsor has a RANDOM inspection with an outcome known on ``as_of``, with ``label``."""
    from training.fitting.labels import build_labels

    dates = sorted(scores["as_of"].unique().to_list())
    labels = build_labels(inspections.lazy(), dates, horizon_months, known_until=as_of)
    return (scores.select("sponsor_id", "as_of", "score")
            .join(labels.collect(), on=["sponsor_id", "as_of"], how="inner")
            .filter(pl.col("label").is_not_null() & (pl.col("selection") == "RANDOM")))


def outcome_metrics(scores: pl.DataFrame, inspections: pl.LazyFrame | pl.DataFrame,
                    as_of: dt.date, horizon_months: int, ks: Sequence[int],
                    seed: int = 0) -> dict[str, Any]:
    """Precision at each k, base rate, Brier score and calibration in the large on the
    RANDOM outcomes known on ``as_of`` of the snapshots in ``scores`` (pooled), with
    intervals, and the calibration evidence per score range."""
    from training.fitting.intervals import calibration_evidence, random_slice_metrics

    rows = random_outcomes(scores, inspections, as_of, horizon_months)
    metrics = random_slice_metrics(rows, "score", ks, seed,
                                   resamples=RESAMPLES)
    keep = ["base_rate", "brier", "calibration_in_the_large", "auc_roc",
            *(f"precision_at_{k}" for k in ks)]
    evidence = calibration_evidence(rows.with_columns(selection=pl.lit("RANDOM")), "score")
    return {"snapshots": [str(d) for d in sorted(scores["as_of"].unique().to_list())],
            "random_outcomes": rows.height,
            "random_violations": int(rows["label"].sum()) if rows.height else 0,
            "random_sponsors": rows["sponsor_id"].n_unique(),
            "mean_score": float(rows["score"].mean()) if rows.height else None,
            "metrics": {name: metrics[name] for name in keep if name in metrics},
            "calibration_evidence": evidence}


def label_delay(inspections: pl.LazyFrame | pl.DataFrame, as_of: dt.date,
                since: dt.date) -> dict[str, Any]:
    """How long outcomes take to be known: for inspections opened in ``(since, as_of]``,
    how many have an outcome recorded by ``as_of``, and the days from opening to the first
    recorded outcome (median and 90th percentile) of those that have."""
    versions = inspections.lazy()
    if "recorded_on" not in versions.collect_schema().names():
        versions = versions.with_columns(recorded_on=pl.col("closed_on"))
    versions = versions.filter(pl.col("recorded_on").is_null()
                               | (pl.col("recorded_on") <= as_of))
    opened = versions.filter((pl.col("opened_on") > since) & (pl.col("opened_on") <= as_of))
    closed = (opened.filter(pl.col("closed_on").is_not_null()
                            & (pl.col("closed_on") <= as_of))
              .group_by("inspection_id")
              .agg(pl.col("opened_on").first(),
                   pl.col("recorded_on").fill_null(pl.col("closed_on")).min().alias("known"))
              .with_columns(days=(pl.col("known") - pl.col("opened_on")).dt.total_days())
              .collect())
    total = opened.select(pl.col("inspection_id").n_unique()).collect().item()
    return {"since": str(since), "opened": int(total), "known": closed.height,
            "known_share": closed.height / total if total else None,
            "median_days": (float(closed["days"].median()) if closed.height else None),
            "p90_days": (float(closed["days"].quantile(0.9, "nearest")) if closed.height
                         else None)}
