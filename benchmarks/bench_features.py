"""Time the polars features against the DuckDB SQL peer on a simulated world.

    uv run python benchmarks/bench_features.py            # 12,000 sponsors
    uv run python benchmarks/bench_features.py --large    # also 120,000 sponsors, 36 snapshots

Measures, each engine in its own child process (so peak memory is its own):
- one snapshot of every feature, read from Parquet (polars);
- one snapshot of the twelve features both implement (polars and DuckDB);
- 36 monthly snapshots of every feature (polars) and of the twelve (polars and DuckDB);
- that both agree on the twelve features of the large world;
and writes benchmarks/results/features.json. Wall time depends on what else runs on the
machine, so CPU seconds and the load average are recorded too; the ratios compare engines
measured in the same run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "features.json"
SEED = 20240601
#: 36 month ends, the last three years of the simulated window (2019 to 2025).
FIRST_AS_OF, LAST_AS_OF = dt.date(2023, 1, 31), dt.date(2025, 12, 31)
TARGETS = {"one_snapshot_s": 5.0, "history_36_s": 60.0, "peak_memory_gb": 4.0,
           "large_peak_memory_gb": 8.0}


def as_of_dates() -> list[dt.date]:
    from features.build import as_of_dates as dates

    return dates(FIRST_AS_OF, LAST_AS_OF, "month")


def ensure_world(folder: Path, sponsors: int) -> Path:
    """Simulate a world of ``sponsors`` into ``folder`` unless one is already there."""
    if (folder / "sponsors.parquet").exists():
        return folder
    from pipelines.simulate.output import write_world

    started = time.perf_counter()
    write_world(folder, sponsors, SEED)
    print(f"simulated {sponsors} sponsors in {time.perf_counter() - started:.1f} s",
          file=sys.stderr)
    return folder


def scan_extract(folder: Path) -> dict[str, Any]:
    """Contract tables of a simulated extract: ``<table>.parquet`` or a folder of parts."""
    import polars as pl

    from sponsorwatch.contract import TABLES

    tables = {}
    for name in TABLES:
        if (folder / name).is_dir():
            tables[name] = pl.scan_parquet(folder / name / "*.parquet")
        elif (folder / f"{name}.parquet").exists():
            tables[name] = pl.scan_parquet(folder / f"{name}.parquet")
    return tables


def timed(work: Callable[[], Any]) -> tuple[Any, dict[str, float]]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return result, {"wall_s": round(time.perf_counter() - wall, 3),
                    "cpu_s": round(time.process_time() - cpu, 3)}


def peak_memory_gb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2, 3)


def run_polars(folder: Path, history: bool, shared: bool = True) -> dict[str, Any]:
    from benchmarks.duckdb_features import DUCKDB_FEATURES
    from features.build import ENGINE, build_feature_history, build_features
    from features.store import write_snapshot
    from sponsorwatch.thresholds import load_thresholds

    thresholds, dates = load_thresholds(), as_of_dates()
    tables = scan_extract(folder)
    out: dict[str, Any] = {"engine": f"polars {ENGINE}"}
    frame, out["one_snapshot"] = timed(
        lambda: build_features(tables, dates[-1], thresholds).collect(engine=ENGINE))
    out["one_snapshot"]["rows"], out["one_snapshot"]["features"] = frame.height, frame.width - 2
    if shared:
        _, out["one_snapshot_shared_features"] = timed(
            lambda: build_features(tables, dates[-1], thresholds, features=DUCKDB_FEATURES)
            .collect(engine=ENGINE))
    if history:
        # as `sponsorwatch features` does: each snapshot written to the store, none kept
        store, rows = Path(tempfile.mkdtemp(prefix="store-", dir=folder)), [0]

        def write(_day: dt.date, snapshot: Any) -> None:
            write_snapshot(store, snapshot, {"feature_set_version": "benchmark"})
            rows[0] += snapshot.height

        _, out["history_36"] = timed(
            lambda: build_feature_history(tables, dates, thresholds, on_snapshot=write))
        out["history_36"]["rows"] = rows[0]
    if history and shared:
        shared_frame, out["history_36_shared_features"] = timed(
            lambda: build_feature_history(tables, dates, thresholds,
                                          features=DUCKDB_FEATURES))
        shared_frame.drop("as_of").write_parquet(folder / "_polars_shared.parquet")
        shared_dates = shared_frame["as_of"].unique().sort().to_list()
        out["history_dates"] = [str(shared_dates[0]), str(shared_dates[-1]), len(shared_dates)]
    out["peak_memory_gb"] = peak_memory_gb()
    return out


def run_duckdb(folder: Path, history: bool) -> dict[str, Any]:
    import polars as pl

    from benchmarks.duckdb_features import connect, duckdb_features
    from sponsorwatch.thresholds import load_thresholds

    thresholds, dates = load_thresholds(), as_of_dates()
    out: dict[str, Any] = {"engine": "duckdb"}
    # like polars, each measurement starts from the Parquet files: loading is part of it
    con, out["load_tables"] = timed(lambda: connect(scan_extract(folder), thresholds))
    _, out["one_snapshot_shared_features"] = timed(
        lambda: duckdb_features(connect(scan_extract(folder), thresholds), dates[-1]))
    if history:
        def all_dates() -> list[Any]:
            con = connect(scan_extract(folder), thresholds)
            return [duckdb_features(con, d) for d in dates]

        frames, out["history_36_shared_features"] = timed(all_dates)
        pl.concat(frames).write_parquet(folder / "_duckdb_shared.parquet")
    out["peak_memory_gb"] = peak_memory_gb()
    return out


def agreement(folder: Path) -> dict[str, Any]:
    """Largest relative difference and null mismatches per shared feature, all dates."""
    import polars as pl

    from benchmarks.duckdb_features import DUCKDB_FEATURES

    left = pl.read_parquet(folder / "_polars_shared.parquet")
    right = pl.read_parquet(folder / "_duckdb_shared.parquet")
    if left.height != right.height or left["sponsor_id"].to_list() != right[
            "sponsor_id"].to_list():
        return {"rows_polars": left.height, "rows_duckdb": right.height, "agree": False}
    report: dict[str, Any] = {"rows": left.height}
    agree = True
    for name in DUCKDB_FEATURES:
        a, b = left[name], right[name]
        nulls = int((a.is_null() != b.is_null()).sum())
        worst = ((a - b).abs() / (1 + b.abs())).max()
        report[name] = {"null_mismatches": nulls, "max_rel_diff": float(worst or 0.0)}
        agree &= nulls == 0 and (worst or 0.0) < 1e-9
    report["agree"] = agree
    return report


def child(engine: str, folder: Path, history: bool, shared: bool = True) -> dict[str, Any]:
    """Run one engine's measurements in a fresh interpreter and return its JSON."""
    command = [sys.executable, __file__, "--child", engine, "--world", str(folder)]
    if not history:
        command.append("--no-history")
    if not shared:
        command.append("--no-shared")
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{engine} benchmark failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench_world(folder: Path, sponsors: int, history: bool = True,
                engines: tuple[str, ...] = ("polars", "duckdb"),
                shared: bool = True) -> dict[str, Any]:
    ensure_world(folder, sponsors)
    result: dict[str, Any] = {"sponsors": sponsors, "seed": SEED,
                              "load_average_before": os.getloadavg()}
    for engine in engines:
        result[engine] = child(engine, folder, history, shared)
    result["load_average_after"] = os.getloadavg()
    if history and set(engines) == {"polars", "duckdb"}:
        result["agreement"] = agreement(folder)
        p, d = result["polars"], result["duckdb"]
        result["duckdb_over_polars"] = {
            key: {unit: round(d[key][unit] / max(p[key][unit], 1e-9), 2)
                  for unit in ("wall_s", "cpu_s")}
            for key in ("one_snapshot_shared_features", "history_36_shared_features")}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--world", type=Path, help="simulated extract to reuse (or create)")
    parser.add_argument("--large", action="store_true", help="also the 120,000-sponsor world")
    parser.add_argument("--large-world", type=Path, help="120,000-sponsor extract to reuse")
    parser.add_argument("--child", choices=("polars", "duckdb"), help=argparse.SUPPRESS)
    parser.add_argument("--no-history", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-shared", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--large-only", action="store_true",
                        help="skip the 12,000-sponsor world (keeps its earlier results)")
    args = parser.parse_args()
    if args.child:
        if args.child == "polars":
            print(json.dumps(run_polars(args.world, not args.no_history, not args.no_shared)))
        else:
            print(json.dumps(run_duckdb(args.world, not args.no_history)))
        return
    scratch = Path(tempfile.mkdtemp(prefix="bench-features-"))
    earlier = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}
    results: dict[str, Any] = {
        "command": "uv run python benchmarks/bench_features.py"
                   + (" --large" if args.large else ""),
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "as_of_dates": [str(d) for d in (as_of_dates()[0], as_of_dates()[-1])],
        "targets": TARGETS,
    }
    if args.large_only and "world_12k" in earlier:
        results.update({k: earlier[k] for k in ("when", "world_12k", "checks")})
        results["world_120k_when"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    else:
        results["world_12k"] = bench_world(args.world or scratch / "world-12k", 12_000)
        small = results["world_12k"]
        results["checks"] = {
            "one_snapshot_under_5s": small["polars"]["one_snapshot"]["wall_s"] < 5.0,
            "history_36_under_60s": small["polars"]["history_36"]["wall_s"] < 60.0,
            "peak_memory_under_4gb": small["polars"]["peak_memory_gb"] < 4.0,
            "polars_at_least_as_fast_as_duckdb": all(
                r["wall_s"] >= 1.0 for r in small["duckdb_over_polars"].values()),
            "duckdb_agrees": small["agreement"]["agree"],
        }
    if not (args.large or args.large_only) and "world_120k" in earlier:
        # a rerun of the 12,000-sponsor world keeps the (long) large run's results
        results["world_120k"] = earlier["world_120k"]
        results["world_120k_when"] = earlier.get("world_120k_when", earlier.get("when"))
        results["checks"]["large_peak_memory_under_8gb"] = earlier["checks"].get(
            "large_peak_memory_under_8gb")
    if args.large or args.large_only:
        results["world_120k"] = bench_world(args.large_world or scratch / "world-120k",
                                             120_000, engines=("polars",), shared=False)
        results["checks"]["large_peak_memory_under_8gb"] = (
            results["world_120k"]["polars"]["peak_memory_gb"] < 8.0)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results["checks"], indent=2))
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
