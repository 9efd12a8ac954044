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
    unmeasured_groups,
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
    #: What the gate metric was measured on: the snapshots pooled, which inspections
    #: (RANDOM only or every labelled one) and why.
    basis: dict[str, Any] = field(default_factory=dict)
    #: What could not be measured (a group with too few labelled negatives, no yardstick):
    #: an audit that cannot measure does not pass.
    unmeasured: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.breaches and not self.unmeasured

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
            "basis": self.basis, "unmeasured": self.unmeasured,
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
    """One row per scored sponsor (and snapshot, where ``predictions`` pools several by
    ``as_of``): ``selected`` (in the top k of its snapshot), outcomes and every grouping.
    ``groups`` and ``restricted`` are joined on ``as_of`` too where they carry it."""
    days = (predictions["as_of"].unique().sort().to_list()
            if "as_of" in predictions.columns else [None])
    # An outcome column without a single known value (no truth on real data) is left out.
    outcomes = [o for o in OUTCOMES if o in predictions.columns
                and predictions[o].null_count() < predictions.height]
    extra = [c for c in ("as_of", "selection") if c in predictions.columns]
    parts = []
    for day in days:
        rows = predictions if day is None else predictions.filter(pl.col("as_of") == day)
        mask = top_k_mask(rows["score"].to_numpy(), rows["sponsor_id"].to_list(), k)
        parts.append(rows.select("sponsor_id", "score", *extra, *outcomes).with_columns(
            pl.Series("selected", mask), *[pl.col(o).cast(pl.Int8) for o in outcomes]))
    frame = pl.concat(parts, how="vertical_relaxed")
    frame = frame.join(groups, on=_keys(frame, groups), how="left").join(
        restricted.select(*_keys(frame, restricted), RESTRICTED_GROUPING),
        on=_keys(frame, restricted), how="left")
    return frame.with_columns(pl.col(g).fill_null(UNKNOWN) for g in GROUPINGS)


def _keys(left: pl.DataFrame, right: pl.DataFrame) -> list[str]:
    return ["sponsor_id", *(["as_of"] if "as_of" in left.columns
                            and "as_of" in right.columns else [])]


def choose_basis(population: pl.DataFrame, min_random: int | None, min_support: int,
                 min_expected: float, min_group_share: float) -> tuple[pl.DataFrame, dict]:
    """The population the gate metric is measured on: labels of RANDOM inspections only
    where there are at least ``min_random`` of them and they measure every nationality-mix
    group that must be measured, else every labelled inspection; with what was chosen
    and why."""
    days = (sorted(population["as_of"].unique().to_list())
            if "as_of" in population.columns else [])
    labelled = int(population["label"].is_not_null().sum()) if "label" in population.columns \
        else 0
    basis: dict[str, Any] = {"snapshots": [str(d) for d in days], "labelled": labelled,
                             "inspections": "all labelled"}
    if "label" not in population.columns or "selection" not in population.columns \
            or min_random is None:
        basis["reason"] = "no selection of the inspections known"
        return population, basis
    random_only = population.with_columns(
        pl.when(pl.col("selection") == "RANDOM").then(pl.col("label")).otherwise(None)
        .alias("label"))
    count = int(random_only["label"].is_not_null().sum())
    basis["random_labels"] = count
    if count < min_random:
        basis["reason"] = (f"{count} RANDOM inspection labels, fewer than the "
                           f"{min_random} needed to audit on them alone")
        return population, basis
    table = group_metrics(random_only, RESTRICTED_GROUPING, min_support, min_expected)
    missing = unmeasured_groups(table, "fpr_label", min_support, min_group_share)
    if missing:
        basis["reason"] = ("RANDOM inspections alone cannot measure: " + "; ".join(missing))
        return population, basis
    basis.update({"inspections": "RANDOM", "reason": f"{count} RANDOM inspection labels "
                  f"(at least {min_random}) measure every group"})
    return random_only, basis


def run_fairness_audit(predictions: pl.DataFrame, features: pl.DataFrame,
                       feature_names: Sequence[str], tables: Mapping[str, pl.LazyFrame],
                       restricted: pl.DataFrame, k: int, as_of: date | None = None,
                       min_ratio: float = 0.8, seed: int = 42, min_support: int = 20,
                       min_expected: float = 5.0, alpha: float = 0.05,
                       descriptions: Mapping[str, str] | None = None,
                       contributions: pl.DataFrame | None = None,
                       min_random: int | None = None,
                       min_group_share: float = 0.02) -> FairnessAudit:
    """Audit a ranking of one snapshot, or of several pooled (``predictions`` with more
    than one ``as_of``: the top k is taken in each snapshot, the group tables count every
    snapshot's rows).

    Args:
        predictions: ``sponsor_id``, ``score``, and ``label`` (Int8, null unknown) and, on
            simulated worlds, ``truth`` (1 abusive, 0 not); optional ``as_of`` and the
            ``selection`` of the inspection behind each label.
        features: ``sponsor_id`` and the model's feature columns, for the same sponsors
            (of the latest snapshot: the proxy check and bias scan look at that one).
        feature_names: the model's features (never the restricted field).
        tables: warehouse tables (``sponsors``, ``workforce``) for the unrestricted groups.
        restricted: from :func:`load_restricted_attributes` (with ``as_of`` where several
            snapshots are pooled).
        k: size of the top (inspection capacity) in each snapshot.
        min_ratio: four-fifths bound of the promotion gate on the FPR of the top k.
        contributions: ``sponsor_id`` and the model's contribution of each feature to each
            score, for :func:`gap_attribution` (left out where None).
        min_random: RANDOM inspection labels needed to measure the gate metric on them
            alone (None: every labelled inspection).
        min_group_share: share of the sponsors from which a group must be measured.
    """
    forbidden = {RESTRICTED_COLUMN, RESTRICTED_GROUPING} & {n.lower() for n in feature_names}
    if forbidden:
        raise ValueError(f"feature list contains the restricted field(s) {sorted(forbidden)}")
    days = (sorted(predictions["as_of"].unique().to_list())
            if "as_of" in predictions.columns else [])
    when = as_of or (days[-1] if days else None)
    if len(days) > 1:
        groups = pl.concat([audit_groups(tables, d).collect().with_columns(
            pl.lit(d).alias("as_of")) for d in days])
    else:
        groups = audit_groups(tables, when or date.max).collect()
    population = audit_population(predictions, k, groups, restricted)
    population, basis = choose_basis(population, min_random, min_support, min_expected,
                                     min_group_share)
    tables_out = {g: group_metrics(population, g, min_support, min_expected)
                  for g in GROUPINGS}
    latest = population if len(days) < 2 else population.filter(pl.col("as_of") == days[-1])
    aligned = latest.select("sponsor_id", "selected", *GROUPINGS).join(
        features.select("sponsor_id", *feature_names), on="sponsor_id", how="left")
    proxy = proxy_check(aligned, feature_names, aligned[RESTRICTED_GROUPING], seed=seed,
                        descriptions=descriptions)
    scan = bias_scan(aligned, feature_names, aligned["selected"].to_numpy(), seed=seed,
                     descriptions=descriptions, groups=aligned.select(*GROUPINGS))
    # The gate reads labels only, never a simulated truth: it must judge a real extract
    # the same way (the truth-based figures are reported beside it).
    gate_metric = "fpr_label"
    breaches = disparity_breaches(tables_out, gate_metric, min_ratio, alpha)
    unmeasured = unmeasured_groups(tables_out[RESTRICTED_GROUPING], gate_metric, min_support,
                                   min_group_share)
    attribution = _attribute_gap(latest, contributions, feature_names,
                                 group_metrics(latest, RESTRICTED_GROUPING, min_support,
                                               min_expected) if len(days) > 1
                                 else tables_out[RESTRICTED_GROUPING], min_support,
                                 descriptions)
    return FairnessAudit(as_of=when, k=k, sponsors=latest.height, min_ratio=min_ratio,
                         groups=tables_out, proxy=proxy, bias_scan=scan, breaches=breaches,
                         gate_metric=gate_metric, gap_attribution=attribution,
                         basis={**basis, "rows": population.height, "min_support": min_support,
                                "min_group_share": min_group_share},
                         unmeasured=unmeasured)


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
