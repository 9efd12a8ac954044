"""Closed-loop policy simulation: which inspection policy finds the most abuse over five
years, and does its random slice keep the abuse-rate estimate honest and the model sharp?

    uv run python benchmarks/bench_policy.py                      # 12,000 sponsors, 5 seeds
    uv run python benchmarks/bench_policy.py --sponsors 3000 --seeds 2 --years 3   # smaller

On each seed's simulated world (``pipelines.simulate``, 2018-2025), the planned inspections
the simulator drew from 2021 on are taken out, and each policy runs 2021 to 2025 in their
place: the tool's model with random shares 0, 5, 10 and 20 % and the crude rule with 10 %,
all with the same capacity (2.5 % of the sponsors active on 1 January unless --capacity
says otherwise). See ``pipelines/policy`` for the loop. Prints and writes the three
acceptance checks of the issue (computed from this run's own results, pass or fail; the
first one on the abuse rate corrected with each world's inspection-quality study, see
``pipelines/policy/quality.py``, with the raw violation-rate figures printed beside it),
``benchmarks/results/policy.json`` and ``benchmarks/results/policy.png``; the runs go to
the MLflow store of ``--home`` (experiment ``policy-simulation``).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "benchmarks" / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sponsors", type=int, default=12_000)
    parser.add_argument("--seeds", type=int, default=5, help="seeds 1 to N")
    parser.add_argument("--years", type=int, default=5, help="years from 2021")
    parser.add_argument("--capacity", type=float, default=0.025,
                        help="below 1: share of the active sponsors; else a number")
    parser.add_argument("--random-shares", default="0,0.05,0.1,0.2")
    parser.add_argument("--crude-random-share", type=float, default=0.1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--home", type=Path, default=ROOT / "benchmarks" / ".cache" /
                        "policy-home", help="home whose MLflow store gets the runs")
    parser.add_argument("--name", default="policy", help="results file name (no suffix)")
    args = parser.parse_args()
    import logging

    logging.disable(logging.WARNING)
    from pipelines.policy import LoopConfig, run_policy_simulation
    from pipelines.policy.report import TABLE_HEADER, table_rows, write_results
    from sponsorwatch.settings import Settings

    config = LoopConfig(sponsors=args.sponsors, seeds=tuple(range(1, args.seeds + 1)),
                        years=args.years, capacity=args.capacity,
                        random_shares=tuple(float(s) for s in args.random_shares.split(",")),
                        crude_random_share=args.crude_random_share, workers=args.workers)
    load_before = os.getloadavg()
    started = time.perf_counter()
    cpu = time.process_time()
    seeds = run_policy_simulation(config, say=lambda line: print(line, flush=True))
    wall = time.perf_counter() - started
    extra = {
        "command": "uv run python benchmarks/bench_policy.py " + " ".join(sys.argv[1:]),
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "cpus": os.cpu_count()},
        "load_average_before": [round(v, 2) for v in load_before],
        "load_average_after": [round(v, 2) for v in os.getloadavg()],
        "wall_seconds": round(wall, 1),
        "parent_cpu_seconds": round(time.process_time() - cpu, 1),
        "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    payload = write_results(config, seeds, RESULTS, Settings(home=args.home), extra,
                            name=args.name)
    widths = [max(len(h), *(len(r[i]) for r in table_rows(payload, config)))
              for i, h in enumerate(TABLE_HEADER)]
    print("  ".join(h.ljust(w) for h, w in zip(TABLE_HEADER, widths, strict=True)))
    for row in table_rows(payload, config):
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))
    for seed, seconds in payload["seconds_per_seed"].items():
        print(f"seed {seed}: {seconds['total']:.0f} s (world {seconds['world']:.0f} s, "
              f"features {seconds['features']:.0f} s, first champion "
              f"{seconds['first_champion']} s)")
    for seed, q in payload["inspection_quality"].items():
        print(f"seed {seed} inspection quality ({'+'.join(q['selections'])} inspections before "
              f"{q['before']}): sensitivity {q['sensitivity']:.3f} [{q['sensitivity_lo']:.3f}, "
              f"{q['sensitivity_hi']:.3f}] ({q['abusive_violations']}/"
              f"{q['abusive_inspected']}), false-finding rate {q['false_finding_rate']:.3f} "
              f"[{q['false_finding_lo']:.3f}, {q['false_finding_hi']:.3f}] "
              f"({q['clean_violations']}/{q['clean_inspected']})")
    for check in payload["checks"]:
        print(f"{'PASS' if check['passed'] else 'FAIL'}  {check['check']}: {check['rule']}; "
              f"{check['values']}" + (f" ({check['note']})" if check["note"] else ""))
        if "raw" in check:
            for name, raw in check["raw"].items():
                print(f"      {name}: {raw}")
    print(f"{wall:.0f} s wall; wrote {RESULTS / (args.name + '.json')} and "
          f"{RESULTS / (args.name + '.png')}")


if __name__ == "__main__":
    main()
