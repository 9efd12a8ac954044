"""Time and peak memory of the simulator, with a write-only peer in the same run.

    uv run python benchmarks/bench_simulate.py                # 12,000 sponsors, seed 20260701
    uv run python benchmarks/bench_simulate.py --large        # and 120,000 sponsors
    uv run python benchmarks/bench_simulate.py --sponsors 1000  # quick look

Each measurement runs in its own child process, which reports its wall time and its own
peak resident memory (``getrusage(RUSAGE_SELF).ru_maxrss``), so runs do not mask each other:
1. ``write_world``: simulate and write the world (the whole ``sponsorwatch simulate``);
2. peer: read that world back into memory (untimed), then time writing the same frames to
   Parquet with the same settings: the I/O floor no simulator can beat.
Acceptance: 12,000 sponsors over 2019-2025 under 60 s and 4 GB; 120,000 under 8 GB.
Writes benchmarks/results/simulate.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "simulate.json"
SEED = 20260701
LIMITS = {12_000: {"seconds": 60.0, "peak_rss_mb": 4096.0},
          120_000: {"peak_rss_mb": 8192.0}}

_SIMULATE = """
import json, resource, sys, time
from pathlib import Path
from pipelines.simulate import write_world
started = time.perf_counter()
write_world(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

_PEER = """
import json, resource, sys, time
from pathlib import Path
import polars as pl
source, target = Path(sys.argv[1]), Path(sys.argv[2])
frames = {p.relative_to(source): pl.read_parquet(p) for p in sorted(source.rglob("*.parquet"))}
started = time.perf_counter()
for relative, frame in frames.items():
    path = target / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(path, compression="zstd", statistics=True)
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "rows": sum(f.height for f in frames.values()),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _child(code: str, *args: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-c", code, *args], check=True, cwd=ROOT,
                          capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(sponsors: int, seed: int, scratch: Path) -> dict[str, Any]:
    """Simulate ``sponsors`` into ``scratch`` and time the write-only peer on its tables."""
    world = scratch / f"world-{sponsors}"
    simulated = _child(_SIMULATE, str(world), str(sponsors), str(seed))
    peer = _child(_PEER, str(world), str(scratch / f"peer-{sponsors}"))
    rows = peer["rows"]
    report = json.loads((world / "calibration.json").read_text(encoding="utf-8"))
    result = {
        "sponsors": sponsors,
        "seed": seed,
        "rows": rows,
        "row_counts": report["row_counts"],
        "simulate_seconds": round(simulated["seconds"], 2),
        "simulate_peak_rss_mb": round(simulated["peak_rss_mb"], 1),
        "simulate_rows_per_second": round(rows / simulated["seconds"]),
        "peer": "polars write_parquet of the same frames (zstd, statistics), I/O only",
        "peer_seconds": round(peer["seconds"], 2),
        "peer_peak_rss_mb": round(peer["peak_rss_mb"], 1),
        "peer_rows_per_second": round(rows / peer["seconds"]),
        "simulate_vs_peer_time": round(simulated["seconds"] / peer["seconds"], 2),
        "parquet_bytes": sum(p.stat().st_size for p in world.rglob("*.parquet")),
    }
    limit = LIMITS.get(sponsors, {})
    result["limits"] = limit
    result["within_limits"] = all(
        result[f"simulate_{k}"] <= v for k, v in limit.items())
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sponsors", type=int, default=12_000)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--large", action="store_true", help="also run 120,000 sponsors")
    args = parser.parse_args()
    sizes = [args.sponsors] + ([120_000] if args.large else [])
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-simulate-") as scratch:
        for sponsors in sizes:
            run = measure(sponsors, args.seed, Path(scratch))
            runs.append(run)
            print(json.dumps(run, indent=2))
    payload = {
        "benchmark": "simulate",
        "command": "uv run python benchmarks/bench_simulate.py" + (" --large" if args.large
                                                                    else ""),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "runs": runs,
    }
    if RESULTS.exists() and not args.large:
        # Keep a 120,000-sponsor run measured earlier (it takes minutes).
        earlier = json.loads(RESULTS.read_text(encoding="utf-8"))
        payload["runs"] += [r for r in earlier.get("runs", [])
                            if r["sponsors"] not in sizes and r["sponsors"] == 120_000]
    sys.path.insert(0, str(ROOT))
    from sponsorwatch.storage import write_json_atomic

    write_json_atomic(payload, RESULTS)
    print(f"written {RESULTS}")


if __name__ == "__main__":
    main()
