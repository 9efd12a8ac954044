"""The monitor on 12,000-sponsor simulated worlds (issue 19): false alarms without a change,
detection of each injected change, and the time of one snapshot's report.

    uv run python benchmarks/bench_monitor.py [--sponsors 12000] [--seeds 1,2,3,4,5]

- False alarms: for each seed, a world without a change, the reference window the 12 month
  ends of 2022 (the champion's training snapshots), the monitor on the 24 month ends of 2023
  and 2024; the false-alarm rate is the share of those snapshots with an alert.
- Detection: the world of the first seed with each change of ``tests/monitoring/
  monitor_worlds.py`` injected on 2024-01-01, monitored on 2023-12-31, 2024-01-31 and
  2024-02-29: the first snapshot with an alert and what it names.
- Time: ``training.monitoring.report.monitor_snapshot`` for one 12,000-sponsor snapshot
  (features, scores, deliveries, outcomes; the stores already read), wall and CPU, median
  of the 24 of the first seed; and the drift part alone against a peer in the same run:
  the same PSI (decile bins of the reference) and KS test per feature with pandas
  (``pd.cut`` on the reference's quantiles, ``value_counts``) and ``scipy.stats.ks_2samp``.

Scores come from a stand-in model (a logistic regression fitted on the reference window's
inspection labels, see ``monitor_worlds.stand_in_scorer``), not from a trained champion:
the job's reading of the model and the stores and its MLflow logging are not timed here.
Writes ``benchmarks/results/monitor.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "monitoring"))

import monitor_worlds as worlds  # noqa: E402

from training.monitoring import drift  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "monitor.json"


def pandas_peer(reference: pl.DataFrame, current: pl.DataFrame,
                features: list[str]) -> dict[str, tuple[float, float]]:
    """PSI and KS p-value per feature, the way a pandas user writes them."""
    import pandas as pd
    from scipy.stats import ks_2samp

    ref, cur = reference.select(features).to_pandas(), current.select(features).to_pandas()
    out = {}
    for name in features:
        r, c = ref[name].dropna(), cur[name].dropna()
        r, c = r[np.isfinite(r)], c[np.isfinite(c)]
        if r.empty or c.empty:
            out[name] = (float("nan"), 1.0)
            continue
        edges = np.unique(r.quantile(np.arange(1, 10) / 10).to_numpy())
        bins = np.concatenate([[-np.inf], edges, [np.inf]])
        rs = pd.cut(r, bins, right=True).value_counts(normalize=True, sort=False).to_numpy()
        cs = pd.cut(c, bins, right=True).value_counts(normalize=True, sort=False).to_numpy()
        rs, cs = np.clip(rs, drift.PSI_FLOOR, None), np.clip(cs, drift.PSI_FLOOR, None)
        out[name] = (float(((cs - rs) * np.log(cs / rs)).sum()),
                     float(ks_2samp(r.to_numpy(), c.to_numpy(), method="asymp").pvalue))
    return out


def timed(reports_of: Any) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    value = reports_of()
    return value, time.perf_counter() - wall, time.process_time() - cpu


def monitor_timed(features: pl.DataFrame, tables: dict[str, pl.DataFrame],
                  thresholds: pl.DataFrame) -> tuple[list[dict[str, Any]], list[float],
                                                     list[float]]:
    """The monitored world's reports, with the wall and CPU seconds of each report."""
    from training.monitoring import report as report_module

    walls: list[float] = []
    cpus: list[float] = []
    original = report_module.monitor_snapshot

    def measured(inputs: Any, limits: Any) -> dict[str, Any]:
        value, wall, cpu = timed(lambda: original(inputs, limits))
        walls.append(wall)
        cpus.append(cpu)
        return value

    report_module.monitor_snapshot = measured  # run_monitor imports it when called
    try:
        return worlds.run_monitor(features, tables, thresholds), walls, cpus
    finally:
        report_module.monitor_snapshot = original


def drift_against_peer(features: pl.DataFrame) -> dict[str, Any]:
    """The drift table of the last monitored snapshot, ours against the pandas peer."""
    names = [c for c in features.columns if c not in ("sponsor_id", "as_of")]
    reference = features.filter(pl.col("as_of").is_in(worlds.REFERENCE_DATES))
    current = features.filter(pl.col("as_of") == worlds.MONITOR_DATES[-1])
    ours, ours_wall, ours_cpu = timed(lambda: drift.compare(reference, current, names))
    peer, peer_wall, peer_cpu = timed(lambda: pandas_peer(reference, current, names))
    ours_psi = dict(zip(ours["feature"], ours["psi"], strict=True))
    diffs = [abs(ours_psi[n] - peer[n][0]) for n in names
             if np.isfinite(ours_psi[n]) and np.isfinite(peer[n][0])]
    return {"snapshot_sponsors": current.height, "reference_rows": reference.height,
            "features": len(names),
            "drift_ours_wall_s": round(ours_wall, 3), "drift_ours_cpu_s": round(ours_cpu, 3),
            "drift_peer": "pandas (pd.cut on the reference deciles, value_counts) + "
                          "scipy.stats.ks_2samp per feature",
            "drift_peer_wall_s": round(peer_wall, 3), "drift_peer_cpu_s": round(peer_cpu, 3),
            "peer_over_ours_wall": round(peer_wall / ours_wall, 2),
            "peer_over_ours_cpu": round(peer_cpu / ours_cpu, 2) if ours_cpu else None,
            "psi_max_abs_difference": max(diffs) if diffs else None}


def alerts_of(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"check": a["check"], "subject": a["subject"], "value": a["value"]}
            for a in report["alerts"] if a["severity"] == "alert"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sponsors", type=int, default=12_000)
    parser.add_argument("--seeds", default="1,2,3,4,5")
    parser.add_argument("--detection-only", action="store_true",
                        help="Rerun the detection part only; keep the false alarms and timing "
                             "of the results file")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    load_before = os.getloadavg()
    started = time.perf_counter()
    quiet: list[dict[str, Any]] = []
    timing: dict[str, Any] = {}
    kept = json.loads(RESULTS.read_text()) if args.detection_only else {}
    for seed in [] if args.detection_only else seeds:
        (features, tables, thresholds), build_s, _ = timed(
            lambda seed=seed: worlds.world_snapshots(args.sponsors, seed, None))
        reports, walls, cpus = monitor_timed(features, tables, thresholds)
        alerted = [(r["as_of"], alerts_of(r)) for r in reports if r["status"] == "alert"]
        quiet.append({"seed": seed, "snapshots": len(reports),
                      "sponsors_per_snapshot": int(statistics.median(
                          r["sponsors"] for r in reports)),
                      "snapshots_with_alert": len(alerted), "alerts": alerted,
                      "warnings": sum(a["severity"] == "warning" for r in reports
                                      for a in r["alerts"]),
                      "max_psi_last": reports[-1]["summary"]["max_psi"],
                      "build_features_s": round(build_s, 1),
                      "monitor_wall_s_median": round(statistics.median(walls), 3),
                      "monitor_cpu_s_median": round(statistics.median(cpus), 3),
                      "monitor_wall_s_max": round(max(walls), 3)})
        print(json.dumps(quiet[-1], default=str), flush=True)
        if seed == seeds[0]:
            timing = {**drift_against_peer(features),
                      "monitor_snapshot_wall_s_median": quiet[-1]["monitor_wall_s_median"],
                      "monitor_snapshot_cpu_s_median": quiet[-1]["monitor_cpu_s_median"],
                      "monitor_snapshot_wall_s_max": quiet[-1]["monitor_wall_s_max"],
                      "target_s": 10}
            print(json.dumps(timing), flush=True)
    detection = []
    # 2023-11-30 is a warm-up: its report compares it with the reference window's last
    # snapshot, a year before, and is left out; each later one has the month before.
    days = [dt.date(2023, 11, 30), dt.date(2023, 12, 31), worlds.FIRST_AFTER_CHANGE,
            dt.date(2024, 2, 29)]
    for change in worlds.CHANGES:
        reports = worlds.run_monitor(*worlds.world_snapshots(args.sponsors, seeds[0], change,
                                                             days))[1:]
        first = next((r for r in reports if r["status"] == "alert"), None)
        detection.append({
            "change": change, "injected_on": str(worlds.CHANGE_DAY),
            "first_snapshot_after": str(worlds.FIRST_AFTER_CHANGE),
            "first_alert": first["as_of"] if first else None,
            "detected_in_first_snapshot": bool(first and first["as_of"] == str(
                worlds.FIRST_AFTER_CHANGE)),
            "status_by_snapshot": {r["as_of"]: r["status"] for r in reports},
            "alerts_by_snapshot": {r["as_of"]: alerts_of(r) for r in reports}})
        print(json.dumps(detection[-1], default=str), flush=True)
    if args.detection_only:
        quiet, timing = kept["false_alarms"]["by_seed"], kept["timing"]
    total = sum(q["snapshots"] for q in quiet)
    with_alert = sum(q["snapshots_with_alert"] for q in quiet)
    result = {
        "command": "uv run python benchmarks/bench_monitor.py " + " ".join(sys.argv[1:]),
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version(),
                    "load_average_before": [round(x, 2) for x in load_before],
                    "load_average_after": [round(x, 2) for x in os.getloadavg()]},
        "sponsors": args.sponsors, "seeds": seeds,
        "reference_dates": [str(d) for d in worlds.REFERENCE_DATES],
        "monitored_dates": f"{worlds.MONITOR_DATES[0]} .. {worlds.MONITOR_DATES[-1]} "
                           f"({len(worlds.MONITOR_DATES)} month ends)",
        "false_alarms": {"snapshots": total, "snapshots_with_alert": with_alert,
                         "rate": with_alert / total if total else None, "by_seed": quiet},
        "detection": detection, "timing": timing,
        "total_s": round(time.perf_counter() - started, 1)}
    if args.detection_only:
        result["false_alarms_and_timing_from"] = {
            "measured_at": kept["measured_at"], "machine": kept["machine"],
            "total_s": kept["total_s"]}
    RESULTS.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"false-alarm rate {result['false_alarms']['rate']:.3f} ({with_alert} of {total}); "
          f"detected in the first snapshot: "
          f"{[d['change'] for d in detection if d['detected_in_first_snapshot']]}; "
          f"written to {RESULTS}")


if __name__ == "__main__":
    main()
