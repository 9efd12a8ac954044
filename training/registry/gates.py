"""The gates a challenger must pass to become champion: it must beat the champion on the
same held-out snapshots, the fairness audit its training run logged must show no
significant breach of the four-fifths rule, and its features may not predict the
nationality mix beyond a bound (proxy check). Every gate fails closed: what cannot be
measured (no audit, too few labelled negatives in a group, a skipped proxy check) fails,
saying what was missing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from sponsorwatch.settings import Settings
from training.fitting.metrics import precision_at_k
from training.governance.audit import read_audit
from training.governance.disparity import disparity_breaches, ratio_tables, unmeasured_groups
from training.governance.groups import RESTRICTED_GROUPING
from training.registry.loading import LoadedModel


@dataclass(frozen=True)
class GateResult:
    """One gate's verdict with the numbers behind it."""

    gate: str
    passed: bool
    message: str
    numbers: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GateContext:
    """What a gate may look at: both models and the challenger's held-out snapshots."""

    settings: Settings
    challenger: LoadedModel
    champion: LoadedModel | None
    holdout: pl.DataFrame


Gate = Callable[[GateContext], GateResult]


def beats_champion(ctx: GateContext) -> GateResult:
    """The challenger's precision at capacity (``settings.inspection_capacity``, or half the
    rows where fewer are labelled) on its labelled held-out snapshots must exceed the
    champion's on the very same rows."""
    labelled = ctx.holdout.filter(pl.col("label").is_not_null())
    # With fewer labelled held-out rows than the capacity, precision at capacity is the base
    # rate for every model; half the rows is the deepest cut that still tells models apart.
    capacity = ctx.settings.inspection_capacity
    k = min(capacity, max(1, labelled.height // 2))
    y = labelled.get_column("label").cast(pl.Float64).to_numpy()
    challenger_p = precision_at_k(y, ctx.challenger.model.predict(labelled), k)
    numbers: dict[str, Any] = {"k": k, "capacity": capacity, "holdout_rows": labelled.height,
                               "challenger_version": ctx.challenger.info["version"],
                               "challenger_precision_at_k": challenger_p}
    if ctx.champion is None:
        return GateResult("beats_champion", True,
                          f"no champion yet; challenger precision@{k} {challenger_p:.3f}",
                          numbers)
    if ctx.champion.info["version"] == ctx.challenger.info["version"]:
        return GateResult("beats_champion", False,
                          f"version {ctx.challenger.info['version']} is already champion",
                          numbers)
    missing = [f for f in ctx.champion.model.feature_names if f not in labelled.columns]
    if missing:
        return GateResult("beats_champion", False,
                          f"the champion needs feature(s) {missing} that the challenger's "
                          "held-out data lacks; compare by hand and use --force --reason",
                          numbers)
    champion_p = precision_at_k(y, ctx.champion.model.predict(labelled), k)
    numbers.update({"champion_version": ctx.champion.info["version"],
                    "champion_precision_at_k": champion_p})
    verdict = "beats" if challenger_p > champion_p else "does not beat"
    return GateResult(
        "beats_champion", challenger_p > champion_p,
        f"challenger v{ctx.challenger.info['version']} precision@{k} {challenger_p:.3f} "
        f"{verdict} champion v{ctx.champion.info['version']} {champion_p:.3f} on the same "
        f"{labelled.height} held-out labelled snapshots", numbers)


AUDIT_ARTIFACT = "fairness/fairness_audit.json"


def read_run_audit(settings: Any, run_id: str) -> dict[str, Any] | None:
    """The fairness audit logged by a training run, or None when it logged none."""
    import tempfile

    from mlflow.exceptions import MlflowException

    from training.registry.tracking import client

    try:
        with tempfile.TemporaryDirectory() as tmp:
            return read_audit(Path(client(settings).download_artifacts(
                run_id, AUDIT_ARTIFACT, dst_path=tmp)))
    except (MlflowException, OSError):
        return None


def fairness_gate(ctx: Any) -> Any:
    """Promotion gate: the challenger's false-positive rate in the top k may not fall below
    ``settings.fairness_min_ratio`` times the best-off nationality-mix group's (four-fifths
    rule), where the difference is significant. Reads the audit its training run logged
    (pooled over the holdout window; RANDOM inspections where there were enough). Fails
    when it cannot measure: no audit, no best-off group, or a nationality-mix group of at
    least ``settings.fairness_min_group_share`` of the sponsors with fewer than
    ``settings.fairness_min_support`` labelled negatives."""
    run_id = ctx.challenger.info.get("run_id")
    bound = ctx.settings.fairness_min_ratio
    audit = read_run_audit(ctx.settings, run_id) if run_id else None
    if audit is None:
        return GateResult("fairness", False,
                          f"run {run_id} logged no fairness audit; retrain the challenger",
                          {"min_ratio": bound})
    min_support = ctx.settings.fairness_min_support
    tables = ratio_tables(audit, min_support=min_support)
    metric = audit.get("gate_metric", "fpr_label")
    breaches = disparity_breaches(tables, metric, bound)
    restricted = tables.get(RESTRICTED_GROUPING)
    known = ([] if restricted is None or f"{metric}_ratio" not in restricted.columns
             else restricted[f"{metric}_ratio"].drop_nulls().to_list())
    missing = unmeasured_groups(restricted, metric, min_support,
                                ctx.settings.fairness_min_group_share)
    basis = audit.get("basis") or {}
    on = (f"{basis.get('inspections', 'all labelled')} inspections"
          + (f" over {len(basis['snapshots'])} pooled snapshot(s)" if basis.get("snapshots")
             else f" on the snapshot of {audit.get('as_of')}")
          + (f" ({basis['reason']})" if basis.get("reason") else ""))
    numbers = {"metric": metric, "min_ratio": bound, "k": audit.get("k"),
               "min_support": min_support,
               "min_group_share": ctx.settings.fairness_min_group_share,
               "lowest_ratio": min(known) if known else None,
               "breaches": [b.describe() for b in breaches], "unmeasured": missing,
               "basis": basis}
    if breaches:
        return GateResult("fairness", False,
                          f"{metric} of the top {audit.get('k')} differs between "
                          f"{RESTRICTED_GROUPING} groups beyond the bound {bound:.2f}: "
                          + "; ".join(b.describe() for b in breaches) + f"; measured on {on}",
                          numbers)
    if missing:
        return GateResult("fairness", False,
                          f"cannot measure {metric} of the top {audit.get('k')} between "
                          f"{RESTRICTED_GROUPING} groups on {on}: " + "; ".join(missing)
                          + " (more labelled inspections needed, or `promote --force "
                            "--reason TEXT --by NAME`)", numbers)
    return GateResult("fairness", True,
                      f"{metric} ratio between {RESTRICTED_GROUPING} groups: lowest "
                      f"{min(known):.2f} (bound {bound:.2f}, breaches only where "
                      f"significant), measured on {on}", numbers)


def proxy_gate(ctx: Any) -> Any:
    """Promotion gate: the macro AUC with which the challenger's features predict the
    nationality mix (the proxy check of its run's fairness audit) may not exceed
    ``settings.proxy_max_auc``; fails where the check was skipped or not logged."""
    run_id = ctx.challenger.info.get("run_id")
    bound = ctx.settings.proxy_max_auc
    audit = read_run_audit(ctx.settings, run_id) if run_id else None
    if audit is None:
        return GateResult("proxy", False,
                          f"run {run_id} logged no fairness audit (and so no proxy check); "
                          "retrain the challenger", {"max_auc": bound})
    proxy = audit.get("proxy_check") or {}
    auc = proxy.get("auc_macro")
    numbers = {"max_auc": bound, "auc_macro": auc, "sponsors": proxy.get("sponsors"),
               "classes": proxy.get("classes"),
               "strongest_proxies": [p.get("feature") for p in
                                     proxy.get("strongest_proxies", [])]}
    if auc is None:
        return GateResult("proxy", False,
                          f"proxy check of run {run_id} could not measure how well the "
                          f"features predict {RESTRICTED_GROUPING}: "
                          f"{proxy.get('skipped', 'no proxy check logged')}", numbers)
    strongest = ", ".join(numbers["strongest_proxies"][:3]) or "none"
    passed = auc <= bound
    return GateResult("proxy", passed,
                      f"features predict {RESTRICTED_GROUPING} with macro AUC {auc:.3f} "
                      f"({'within' if passed else 'beyond'} the bound {bound:.2f}; "
                      f"{proxy.get('sponsors')} sponsors; strongest proxies {strongest})",
                      numbers)
