"""The fairness audit of one ranking: its population, the group tables, proxy check, bias
scan and gap attribution in one :class:`FairnessAudit`, written to files or to an MLflow run.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from sponsorwatch.storage import json_safe
from training.governance.audit_report import audit_markdown
from training.governance.disparity import (
    OUTCOMES,
    Breach,
    disparity_breaches,
    gap_attribution,
    group_metrics,
    top_k_mask,
)
from training.governance.groups import (
    GROUPINGS,
    RESTRICTED_COLUMN,
    RESTRICTED_GROUPING,
    UNKNOWN,
    audit_groups,
)
from training.governance.proxy import bias_scan, proxy_check


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


def contributions_frame(model: Any, frame: pl.DataFrame) -> pl.DataFrame:
    """``sponsor_id`` and a RiskModel's SHAP contribution of each feature to each row's
    score (its bias column left out): the ``contributions`` of :func:`run_fairness_audit`."""
    names = list(model.feature_names)
    values = model.contributions(frame)[:, :len(names)]
    return pl.DataFrame(values, schema=names, orient="row").with_columns(frame["sponsor_id"])
