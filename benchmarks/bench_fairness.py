"""Fairness audit, proxy check and bias scan of the model trained on a simulated
12,000-sponsor world: the figures the training run logged to MLflow (and the model page
shows), and the cost of rerunning the audit on a score snapshot.

    uv run python benchmarks/bench_fairness.py                        # builds the world once
    uv run python benchmarks/bench_fairness.py --home /path/to/home   # reuse a scored home

Without ``--home`` the world is built under ``benchmarks/.cache/world-<sponsors>`` (reused
by later runs): simulated, ingested (polars checks, no GX), quarterly feature snapshots, a
real model trained (the training run audits itself and writes its model card) and promoted,
the last snapshots scored. The figures are read back from the champion's MLflow run.

Timing: ``sponsorwatch audit-fairness`` on the earliest scored snapshot (group metrics,
proxy check, bias scan) against a named peer in the same run: scoring the same snapshot with
reasons (``training.fitting.scoring.score_frame``). Writes benchmarks/results/fairness.json.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_pages import build_world  # noqa: E402 - the same stages build every bench world

RESULTS = ROOT / "benchmarks" / "results" / "fairness.json"
SEED = 20260701


def ensure_world(home: Path | None, sponsors: int, seed: int) -> tuple[Path, Any]:
    """A scored home: ``home`` as given, or one built (once) under benchmarks/.cache."""
    target = home or ROOT / "benchmarks" / ".cache" / f"world-{sponsors}"
    build = None
    if not any((target / "scores").glob("as_of=*/scores.parquet")):
        if home:
            sys.exit(f"{home}: no score snapshot; run without --home to build a world")
        print(f"building a {sponsors}-sponsor world in {target} (once)", flush=True)
        build = build_world(target, sponsors, seed)
    return target, build


def _round(value: Any, digits: int = 4) -> Any:
    return round(value, digits) if isinstance(value, float) else value


def _group_rows(rows: list[dict[str, Any]], grouping: str) -> list[dict[str, Any]]:
    keys = (grouping, "sponsors", "selected", "selection_rate", "selection_rate_lo",
            "selection_rate_hi", "selection_rate_ratio", "flagged_label", "precision_label",
            "fpr_label", "fpr_label_lo", "fpr_label_hi", "fpr_label_ratio", "fpr_label_p_worse",
            "fdr_label", "precision_truth", "fpr_truth", "fpr_truth_lo", "fpr_truth_hi",
            "fpr_truth_ratio", "fdr_truth")
    return [{k: _round(row.get(k)) for k in keys if k in row} for row in rows]


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return _round(value)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def run_figures(audit: dict[str, Any]) -> dict[str, Any]:
    """The README's figures from a logged audit (ratios and the gate recomputed from its
    counts under the current rules, as ``promote`` does)."""
    from training.governance.disparity import disparity_breaches, ratio_tables

    tables = ratio_tables(audit)
    groups = {g: t.to_dicts() for g, t in tables.items()}
    breaches = [b.describe() for b in disparity_breaches(
        tables, audit.get("gate_metric", "fpr_label"), audit["min_ratio"])]
    lowest: dict[str, dict[str, Any]] = {}
    for grouping, rows in groups.items():
        lowest[grouping] = {}
        for metric in ("selection_rate_ratio", "fpr_label_ratio", "fpr_truth_ratio",
                       "precision_label_ratio", "fdr_label_ratio"):
            values = [r[metric] for r in rows if r.get(metric) is not None]
            lowest[grouping][metric] = _round(min(values)) if values else None
    proxy = audit["proxy_check"]
    scan = audit["bias_scan"]
    return {
        "as_of": audit["as_of"], "k": audit["k"], "sponsors": audit["sponsors"],
        "gate": {"metric": audit["gate_metric"], "min_ratio": audit["min_ratio"],
                 "passed": not breaches, "breaches": breaches},
        "lowest_ratio_by_grouping": lowest,
        "nationality_mix": _group_rows(groups["nationality_mix"], "nationality_mix"),
        "sector": _group_rows(groups["sector"], "sector"),
        "size_class": _group_rows(groups["size_class"], "size_class"),
        "postcode_area": _group_rows(groups["postcode_area"], "postcode_area"),
        "proxy_check": {k: (_round(v) if not isinstance(v, list) else v)
                        for k, v in proxy.items() if k != "auc_per_class"}
        | {"auc_per_class": {k: _round(v) for k, v in proxy.get("auc_per_class", {}).items()}},
        "gap_attribution": _rounded(audit.get("gap_attribution", {})),
        "bias_scan": {
            "method": scan["method"], "average_selection_rate": _round(scan[
                "average_selection_rate"]),
            "clusters": [{"cluster": c["cluster"], "sponsors": c["sponsors"],
                          "selected": c["selected"], "selection_rate": _round(c[
                              "selection_rate"]),
                          "ratio_to_average": _round(c["ratio_to_average"], 2),
                          "flagged": c["flagged"],
                          "describing_features": [
                              {"feature": f["feature"],
                               "standardised_difference": _round(
                                   f["standardised_difference"], 2)}
                              for f in c["describing_features"]],
                          "nationality_mix": {k: _round(v, 3) for k, v in c.get(
                              "group_mix", {}).get("nationality_mix", {}).items()}}
                         for c in scan["clusters"]],
            "flagged_clusters": scan["flagged_clusters"]},
    }


def run(home: Path) -> dict[str, Any]:
    import polars as pl

    from sponsorwatch.settings import Settings
    from training.fitting.scoring import load_score_snapshot, score_dates, score_frame
    from training.jobs.audit import run_snapshot_audit
    from training.registry.cards import load_model_card
    from training.registry.gates import read_run_audit
    from training.registry.loading import load_model

    settings = Settings(home=home)
    model, info = load_model(settings)
    logged = read_run_audit(settings, info["run_id"])
    if logged is None:
        sys.exit(f"the champion's run {info['run_id']} logged no fairness audit; retrain")
    card = load_model_card(settings, str(info["version"]), info["run_id"])

    day = score_dates(settings.scores_dir)[0]
    scores, _ = load_score_snapshot(settings.scores_dir, day)
    started = time.perf_counter()
    monitored, folder = run_snapshot_audit(settings, day)
    audit_seconds = time.perf_counter() - started
    sponsors = pl.read_parquet(settings.warehouse_dir / "sponsors.parquet")
    started = time.perf_counter()
    score_frame(model, scores, sponsors, capacity=settings.inspection_capacity)
    peer_seconds = time.perf_counter() - started
    return {
        "world": {"home": str(home), "model_version": str(info["version"]),
                  "run_id": info["run_id"]},
        "training_run_audit": run_figures(logged),
        "model_card": {"features": len(card["features"]),
                       "excluded_attributes": card["excluded_attributes"],
                       "publication_category": card["algorithm_register"][
                           "publication_category"]},
        "monitoring_audit": {"snapshot": str(day), "report": str(folder),
                             **{k: _round(v) for k, v in monitored.metrics().items()}},
        "timing": {"audit_seconds": round(audit_seconds, 2),
                   "peer": "score_frame of the same snapshot (scores, ranks, reasons)",
                   "peer_seconds": round(peer_seconds, 2),
                   "audit_vs_peer": round(audit_seconds / peer_seconds, 2),
                   "sponsors": scores.height},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, help="a scored home to reuse")
    parser.add_argument("--sponsors", type=int, default=12_000)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    import logging

    logging.disable(logging.WARNING)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    home, build = ensure_world(args.home, args.sponsors, args.seed)
    result = run(home)
    result["build_s"] = build
    result["command"] = "uv run python benchmarks/bench_fairness.py " + " ".join(sys.argv[1:])
    result["machine"] = {"platform": platform.platform(), "python": platform.python_version(),
                         "cpus": os.cpu_count()}
    from sponsorwatch.storage import json_safe, write_json_atomic

    write_json_atomic(json_safe(result), args.out)
    figures = result["training_run_audit"]
    proxy = figures["proxy_check"]
    print(f"gate: {'passed' if figures['gate']['passed'] else 'REFUSED'}; lowest ratios "
          f"{figures['lowest_ratio_by_grouping']['nationality_mix']}")
    if "auc_macro" in proxy:
        print(f"proxy check: balanced accuracy {proxy['balanced_accuracy']} (chance "
              f"{proxy['balanced_accuracy_chance']}), AUC {proxy['auc_macro']}; strongest "
              + ", ".join(p["feature"] for p in proxy["strongest_proxies"]))
    print(f"bias scan: flagged clusters {figures['bias_scan']['flagged_clusters']}")
    for group in figures["gap_attribution"].get("groups", []):
        print(f"FPR gap of {group['group']} vs {figures['gap_attribution']['reference_group']}: "
              + ", ".join(f"{f['feature']} +{f['gap']}" for f in group["features"]))
    print(f"audit {result['timing']['audit_seconds']} s vs scoring "
          f"{result['timing']['peer_seconds']} s")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
