"""Time the polars features on a 12,000- and a 120,000-sponsor world against the DuckDB
SQL peer, in one run.

    uv run python benchmarks/bench_features.py               # both worlds (about 10 minutes)
    uv run python benchmarks/bench_features.py --small-only  # the 12,000-sponsor world only

Measures, each engine and world in its own child process (so peak memory is its own):
- one snapshot of every feature, read from Parquet (polars; the median of three), in both
  worlds, and how many times longer the large world takes (target: at most 12 times for
  10 times the sponsors); once more computed whole rather than in shards of sponsors
  (features.context.Context.shards), timed and compared value by value;
- one snapshot of the twelve features both implement, polars and DuckDB, in both worlds;
- 36 monthly snapshots of every feature written to a store (polars), in both worlds
  (targets: 60 s and 4 GB small, 600 s and 8 GB large, on 2 cores);
- 36 monthly snapshots of the twelve, polars and DuckDB, on the small world;
- that both engines agree on the twelve (36 dates small, one snapshot large);
and writes benchmarks/results/features.json (features_12000.json with --small-only).
Wall time depends on what else runs on the machine, so CPU seconds and the load average
(before, after and sampled every 5 s) are recorded too; ratios compare measurements of
the same run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "features.json"
SMALL_RESULTS = ROOT / "benchmarks" / "results" / "features_12000.json"
SEED = 20240601
SMALL, LARGE = 12_000, 120_000
#: 36 month ends, the last three years of the simulated window (2019 to 2025).
FIRST_AS_OF, LAST_AS_OF = dt.date(2023, 1, 31), dt.date(2025, 12, 31)
#: One snapshot is measured this many times; the median counts.
REPEATS = 3
TARGETS = {"one_snapshot_s": 5.0, "history_36_s": 60.0, "peak_memory_gb": 4.0,
           "large_one_snapshot_growth": 12.0, "large_history_36_s": 600.0,
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


def describe_world(folder: Path) -> dict[str, Any]:
    """Rows per table, and whether the simulator wrote contract version 2 (versions of
    sponsors, officers and inspections with ``recorded_on``)."""
    import polars as pl

    tables = scan_extract(folder)
    rows = {name: tables[name].select(pl.len()).collect().item() for name in tables}
    versioned = "recorded_on" in tables["sponsors"].collect_schema()
    sponsors = tables["sponsors"].select(pl.col("sponsor_id").n_unique()).collect().item()
    return {"contract_version": 2 if versioned else 1, "sponsors": sponsors, "rows": rows}


def timed(work: Callable[[], Any]) -> tuple[Any, dict[str, float]]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return result, {"wall_s": round(time.perf_counter() - wall, 3),
                    "cpu_s": round(time.process_time() - cpu, 3)}


def repeated(work: Callable[[], Any], repeats: int = REPEATS) -> tuple[Any, dict[str, Any]]:
    """``work`` timed ``repeats`` times: the median wall and CPU time, and every run."""
    runs = [timed(work) for _ in range(repeats)]
    times = [t for _, t in runs]
    return runs[-1][0], {"wall_s": statistics.median(t["wall_s"] for t in times),
                         "cpu_s": statistics.median(t["cpu_s"] for t in times),
                         "runs": times}


def peak_memory_gb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2, 3)


def run_polars(folder: Path, shared_history: bool) -> dict[str, Any]:
    from benchmarks.duckdb_features import DUCKDB_FEATURES
    from features.build import ENGINE, build_feature_history, build_features
    from features.context import SPONSORS_PER_SHARD, Context
    from features.store import write_snapshot
    from sponsorwatch.thresholds import load_thresholds

    thresholds, dates = load_thresholds(), as_of_dates()
    out: dict[str, Any] = {"engine": f"polars {ENGINE}"}
    # each one-snapshot measurement starts from the Parquet files, as `features --as-of`
    frame, out["one_snapshot"] = repeated(
        lambda: build_features(scan_extract(folder), dates[-1], thresholds)
        .collect(engine=ENGINE))
    out["one_snapshot"]["rows"], out["one_snapshot"]["features"] = frame.height, frame.width - 2
    # the same snapshot computed whole (not in shards of sponsors): its time, and whether
    # every value is identical
    Context.sponsors_per_shard = None
    whole, out["one_snapshot_unsharded"] = timed(
        lambda: build_features(scan_extract(folder), dates[-1], thresholds)
        .collect(engine=ENGINE))
    Context.sponsors_per_shard = SPONSORS_PER_SHARD
    out["one_snapshot_unsharded"]["identical_to_sharded"] = whole.equals(frame)
    shared, out["one_snapshot_shared_features"] = repeated(
        lambda: build_features(scan_extract(folder), dates[-1], thresholds,
                               features=DUCKDB_FEATURES).collect(engine=ENGINE))
    shared.drop("as_of").write_parquet(folder / "_polars_one.parquet")
    # as `sponsorwatch features` does: each snapshot written to the store, none kept
    store, rows = Path(tempfile.mkdtemp(prefix="store-", dir=folder)), [0]

    def write(_day: dt.date, snapshot: Any) -> None:
        write_snapshot(store, snapshot, {"feature_set_version": "benchmark"})
        rows[0] += snapshot.height

    _, out["history_36"] = timed(lambda: build_feature_history(
        scan_extract(folder), dates, thresholds, on_snapshot=write))
    out["history_36"]["rows"] = rows[0]
    if shared_history:
        shared_frame, out["history_36_shared_features"] = timed(
            lambda: build_feature_history(scan_extract(folder), dates, thresholds,
                                          features=DUCKDB_FEATURES))
        shared_frame.drop("as_of").write_parquet(folder / "_polars_shared.parquet")
        shared_dates = shared_frame["as_of"].unique().sort().to_list()
        out["history_dates"] = [str(shared_dates[0]), str(shared_dates[-1]), len(shared_dates)]
    out["peak_memory_gb"] = peak_memory_gb()
    return out


def run_duckdb(folder: Path, shared_history: bool) -> dict[str, Any]:
    import polars as pl

    from benchmarks.duckdb_features import connect, duckdb_features
    from sponsorwatch.thresholds import load_thresholds

    thresholds, dates = load_thresholds(), as_of_dates()
    out: dict[str, Any] = {"engine": "duckdb"}
    # like polars, each measurement starts from the Parquet files: loading is part of it
    _, out["load_tables"] = timed(lambda: connect(scan_extract(folder), thresholds))
    one, out["one_snapshot_shared_features"] = repeated(
        lambda: duckdb_features(connect(scan_extract(folder), thresholds), dates[-1]))
    one.write_parquet(folder / "_duckdb_one.parquet")
    if shared_history:
        def all_dates() -> list[Any]:
            con = connect(scan_extract(folder), thresholds)
            return [duckdb_features(con, d) for d in dates]

        frames, out["history_36_shared_features"] = timed(all_dates)
        pl.concat(frames).write_parquet(folder / "_duckdb_shared.parquet")
    out["peak_memory_gb"] = peak_memory_gb()
    return out


def agreement(folder: Path, stem: str) -> dict[str, Any]:
    """Largest relative difference and null mismatches per shared feature, polars'
    ``_polars_<stem>.parquet`` against DuckDB's ``_duckdb_<stem>.parquet``."""
    import polars as pl

    from benchmarks.duckdb_features import DUCKDB_FEATURES

    left = pl.read_parquet(folder / f"_polars_{stem}.parquet")
    right = pl.read_parquet(folder / f"_duckdb_{stem}.parquet")
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


def child(engine: str, folder: Path, shared_history: bool) -> dict[str, Any]:
    """Run one engine's measurements in a fresh interpreter and return its JSON."""
    command = [sys.executable, __file__, "--child", engine, "--world", str(folder)]
    if shared_history:
        command.append("--shared-history")
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{engine} benchmark failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


class LoadSampler:
    """The one-minute load average every ``every`` seconds while a world is measured."""

    def __init__(self, every: float = 5.0) -> None:
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every,), daemon=True)

    def _run(self, every: float) -> None:
        while not self._stop.wait(every):
            self.samples.append(os.getloadavg()[0])

    def __enter__(self) -> LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> dict[str, float]:
        if not self.samples:
            return {}
        return {"min": round(min(self.samples), 2), "max": round(max(self.samples), 2),
                "mean": round(statistics.fmean(self.samples), 2), "n": len(self.samples)}


def ratio(a: dict[str, Any], b: dict[str, Any]) -> dict[str, float]:
    """``a`` over ``b``, wall and CPU."""
    return {unit: round(a[unit] / max(b[unit], 1e-9), 2) for unit in ("wall_s", "cpu_s")}


def bench_world(folder: Path, sponsors: int, shared_history: bool) -> dict[str, Any]:
    ensure_world(folder, sponsors)
    result: dict[str, Any] = {"sponsors": sponsors, "seed": SEED,
                              "world": describe_world(folder),
                              "load_average_before": os.getloadavg()}
    with LoadSampler() as load:
        for engine in ("polars", "duckdb"):
            result[engine] = child(engine, folder, shared_history)
    result["load_average_after"] = os.getloadavg()
    result["load_average_sampled"] = load.summary()
    p, d = result["polars"], result["duckdb"]
    result["agreement"] = agreement(folder, "shared" if shared_history else "one")
    keys = ["one_snapshot_shared_features"] + (
        ["history_36_shared_features"] if shared_history else [])
    result["duckdb_over_polars"] = {key: ratio(d[key], p[key]) for key in keys}
    return result


def checks(small: dict[str, Any], large: dict[str, Any] | None) -> dict[str, Any]:
    def at_least_as_fast(world: dict[str, Any]) -> bool:
        return all(r["wall_s"] >= 1.0 for r in world["duckdb_over_polars"].values())

    def identical(world: dict[str, Any]) -> bool:
        return world["polars"]["one_snapshot_unsharded"]["identical_to_sharded"]

    out = {
        "sharded_identical_to_whole": identical(small) and (large is None or identical(large)),
        "one_snapshot_under_5s": small["polars"]["one_snapshot"]["wall_s"] < 5.0,
        "history_36_under_60s": small["polars"]["history_36"]["wall_s"] < 60.0,
        "peak_memory_under_4gb": small["polars"]["peak_memory_gb"] < 4.0,
        "polars_at_least_as_fast_as_duckdb": at_least_as_fast(small),
        "duckdb_agrees": small["agreement"]["agree"],
    }
    if large is not None:
        growth = large["growth_over_12k"]["one_snapshot"]
        out.update({
            "large_one_snapshot_within_12x": growth["wall_s"] <= 12.0,
            "large_history_36_under_600s": large["polars"]["history_36"]["wall_s"] < 600.0,
            "large_peak_memory_under_8gb": large["polars"]["peak_memory_gb"] < 8.0,
            "large_polars_at_least_as_fast_as_duckdb": at_least_as_fast(large),
            "large_duckdb_agrees": large["agreement"]["agree"],
        })
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--world", type=Path, help="12,000-sponsor extract to reuse (or create)")
    parser.add_argument("--large-world", type=Path,
                        help="120,000-sponsor extract to reuse (or create)")
    parser.add_argument("--small-only", action="store_true",
                        help="only the 12,000-sponsor world (writes features_12000.json)")
    parser.add_argument("--child", choices=("polars", "duckdb"), help=argparse.SUPPRESS)
    parser.add_argument("--shared-history", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run = run_polars if args.child == "polars" else run_duckdb
        print(json.dumps(run(args.world, args.shared_history)))
        return
    scratch = Path(tempfile.mkdtemp(prefix="bench-features-"))
    results: dict[str, Any] = {
        "command": "uv run python benchmarks/bench_features.py"
                   + (" --small-only" if args.small_only else ""),
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "as_of_dates": [str(d) for d in (as_of_dates()[0], as_of_dates()[-1])],
        "targets": TARGETS,
    }
    small = bench_world(args.world or scratch / "world-12k", SMALL, shared_history=True)
    results["world_12k"] = small
    large = None
    if not args.small_only:
        large = bench_world(args.large_world or scratch / "world-120k", LARGE,
                            shared_history=False)
        large["growth_over_12k"] = {
            key: ratio(large[engine][key], small[engine][key])
            for engine, key in (("polars", "one_snapshot"),
                                ("polars", "history_36"))} | {
            f"{engine}_one_snapshot_shared_features": ratio(
                large[engine]["one_snapshot_shared_features"],
                small[engine]["one_snapshot_shared_features"])
            for engine in ("polars", "duckdb")}
        results["world_120k"] = large
    results["checks"] = checks(small, large)
    out = SMALL_RESULTS if args.small_only else RESULTS
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results["checks"], indent=2))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
