"""Inverse-propensity evaluation of inspection plans on a simulated world with known truth:
does the Horvitz-Thompson estimate from a plan's inspections land within its own interval
of the true value, in at least 9 of 10 seeds?

    uv run python benchmarks/bench_plan_ipw.py                        # builds the world once
    uv run python benchmarks/bench_plan_ipw.py --home /path/to/home   # reuse a scored home

For each seed a plan is drawn from the latest score snapshot (capacity k = the settings'
inspection capacity, random shares 0.1 and 0.3), its inspections are simulated from the
truth table with the simulator's own inspection model (each running typology found with its
detection probability; a minor breach recorded at 7% of the rest), and the plan's
estimates (precision of the risk-based picks, prevalence over all sponsors, precision of the
model's top k) are compared with the same figures computed from the truth: the expected
share of inspections that would find a violation. The abuse rates themselves are reported
beside them. Timing: planning plus evaluation against a named peer in the same run, reading
the score snapshot. Writes benchmarks/results/plan_ipw.json.
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

from bench_fairness import SEED, ensure_world  # noqa: E402 - the same world as the audit

RESULTS = ROOT / "benchmarks" / "results" / "plan_ipw.json"
REQUIRED_COVERED = 9


def inspection_model() -> tuple[dict[str, float], float]:
    """Detection probability per typology and the minor-breach rate, from the simulator."""
    from pipelines.simulate.inspections import MINOR_BREACH
    from pipelines.simulate.typologies import TYPOLOGIES

    return {t.name: t.detection for t in TYPOLOGIES}, MINOR_BREACH


def find_truth_file(home: Path) -> Path:
    from training.fitting.evaluation import find_truth

    found = find_truth(home / "warehouse") or home / "extract" / "truth.parquet"
    if not found.exists():
        sys.exit(f"{home}: no truth table (simulated worlds only)")
    return found


def _mean(rows: list[dict[str, Any]], field: str) -> dict[str, float]:
    from training.planning.coverage import ESTIMATES

    return {key: round(sum(r[key][field] for r in rows) / len(rows), 4) for key in ESTIMATES}


def run(home: Path, seeds: int, shares: list[float]) -> dict[str, Any]:
    import polars as pl

    from sponsorwatch.settings import Settings
    from training.fitting.scoring import load_score_snapshot
    from training.planning.coverage import ESTIMATES, coverage_over_seeds, violation_probability
    from training.planning.design import build_inspection_plan

    settings = Settings(home=home)
    started = time.perf_counter()
    scores, day = load_score_snapshot(settings.scores_dir)
    read_seconds = time.perf_counter() - started
    truth = pl.read_parquet(find_truth_file(home))
    detection, minor = inspection_model()
    chances = violation_probability(truth, detection, day, minor)
    k = settings.inspection_capacity
    designs: list[dict[str, Any]] = []
    started = time.perf_counter()
    for share in shares:
        rows = coverage_over_seeds(scores, chances, k, share, seeds)
        _, design = build_inspection_plan(scores, k, share, 0)
        covered = {key: sum(r[key]["covered"] for r in rows) for key in ESTIMATES}
        designs.append({
            "capacity": k, "random_share": share, "risk_based": design.risk_based,
            "random": design.random, "random_probability": design.random_probability,
            "covered": covered,
            "passed": all(count >= REQUIRED_COVERED for count in covered.values()),
            "mean_estimate": _mean(rows, "estimate"),
            "mean_true_violation_rate": _mean(rows, "true_violation_rate"),
            "mean_true_abuse_rate": _mean(rows, "true_abuse_rate"),
            "mean_interval_width": {key: round(sum(r[key]["hi"] - r[key]["lo"] for r in rows)
                                               / seeds, 4) for key in ESTIMATES},
            "seeds": rows})
    work_seconds = time.perf_counter() - started
    plans = seeds * len(shares)
    return {
        "world": {"home": str(home), "as_of": str(day), "sponsors_ranked": scores.height,
                  "abusive_share": round(float(chances["abusive"].mean()), 4),
                  "expected_violation_rate": round(
                      float(chances["violation_probability"].mean()), 4),
                  "detection_by_typology": detection, "minor_breach_rate": minor},
        "acceptance": {"required_covered_of": f"{REQUIRED_COVERED} of {seeds}",
                       "passed": all(d["passed"] for d in designs)},
        "designs": designs,
        "timing": {"plan_simulate_evaluate_ms": round(1000 * work_seconds / plans, 1),
                   "peer": "reading the score snapshot (parquet) once",
                   "peer_ms": round(1000 * read_seconds, 1),
                   "ratio": round(work_seconds / plans / read_seconds, 2)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, help="a scored home to reuse")
    parser.add_argument("--sponsors", type=int, default=12_000)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--shares", type=float, nargs="+", default=[0.1, 0.3])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    import logging

    logging.disable(logging.WARNING)
    home, build = ensure_world(args.home, args.sponsors, args.seed)
    result = run(home, args.seeds, args.shares)
    result["build_s"] = build
    result["command"] = "uv run python benchmarks/bench_plan_ipw.py " + " ".join(sys.argv[1:])
    result["machine"] = {"platform": platform.platform(), "python": platform.python_version(),
                         "cpus": os.cpu_count()}
    from sponsorwatch.storage import write_json_atomic

    write_json_atomic(result, args.out)
    for design in result["designs"]:
        print(f"k={design['capacity']} random share {design['random_share']}: covered "
              f"{design['covered']} of {args.seeds}; mean estimate {design['mean_estimate']} "
              f"vs true {design['mean_true_violation_rate']}")
    print(f"acceptance ({REQUIRED_COVERED} of {args.seeds}): "
          f"{'passed' if result['acceptance']['passed'] else 'FAILED'}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
