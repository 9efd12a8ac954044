"""Ingest of a simulated world: total time, the share spent in great-expectations, and
peers in the same run.

    uv run python benchmarks/bench_ingest.py                 # 12,000 sponsors, seed 20260701
    uv run python benchmarks/bench_ingest.py --sponsors 400  # quick look

Runs, each into a fresh warehouse:
1. the Parquet extract the simulator writes, with great-expectations (the full ingest; GX
   runs in a worker process of its own, whose CPU is counted and whose peak memory is
   reported apart);
2. the same, polars checks only (``--skip-gx``): the peer GX is measured against;
3. the same extract again into warehouse 1 (a re-run): clean tables must keep their bytes;
4. the same world written as CSV (every column text), polars checks only: the text-parsing
   path a real supplier's CSV takes.
The world is simulated, and each ingest runs, in a fresh process: times include imports and
each peak memory figure is that run's own. The processes share a warmed bytecode cache, as
any installed program does; where the environment forbids writing bytecode
(PYTHONDONTWRITEBYTECODE), every process would compile great-expectations from source
again, so the cache goes under the temporary folder (PYTHONPYCACHEPREFIX) and one cold
import of great-expectations is timed on its own.
Writes benchmarks/results/ingest.json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipelines.ingest.pipeline import IngestResult, ingest  # noqa: E402
from sponsorwatch.contract import TABLES  # noqa: E402
from sponsorwatch.storage import write_json_atomic  # noqa: E402
from sponsorwatch.validation import LIST_SEPARATOR  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "ingest.json"


def simulate(folder: Path, sponsors: int, seed: int) -> float:
    started = time.perf_counter()
    code = ("import sys; from pathlib import Path; from pipelines.simulate import write_world; "
            "write_world(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))")
    subprocess.run([sys.executable, "-c", code, str(folder), str(sponsors), str(seed)],
                   check=True, cwd=ROOT)
    return time.perf_counter() - started


def as_csv(world: Path, folder: Path) -> None:
    """The world's contract tables as CSV files, every value as text."""
    folder.mkdir(parents=True)
    for name, table in TABLES.items():
        source = world / f"{name}.parquet"
        frame = pl.read_parquet(source if source.exists() else world / name / "*.parquet")
        lists = [c.name for c in table.columns if isinstance(c.dtype, pl.List)]
        frame.with_columns(pl.col(c).list.join(LIST_SEPARATOR) for c in lists).write_csv(
            folder / f"{name}.csv")


def _cpu_seconds() -> float:
    """CPU of this process and of its ended children (the great-expectations worker)."""
    return sum(u.ru_utime + u.ru_stime for u in (
        resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)))


def run_ingest(extract: Path, warehouse: Path, run_gx: bool) -> dict[str, Any]:
    """One ingest, in the process that calls it; what the results need from it."""
    started, cpu_before = time.perf_counter(), _cpu_seconds()
    result = ingest(extract, warehouse, run_gx=run_gx)
    seconds = time.perf_counter() - started
    return {"seconds_total": round(seconds, 2), "seconds": result.seconds,
            "cpu_seconds": round(_cpu_seconds() - cpu_before, 2),
            "tables": result.manifest["tables"],
            "gx_success": result.manifest["validation"]["success"],
            "gx_counts_agree_with_polars": gx_agrees(result) if run_gx else None,
            "expectations_evaluated": sum(len(v.outcomes)
                                          for v in result.validations.values()),
            "gx_by_table": {n: {"rows": result.checked[n].rows_in,
                                "expectations": len(v.outcomes),
                                "cpu_seconds": round(v.cpu_seconds, 3)}
                            for n, v in result.validations.items()},
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            # the largest ended child: the great-expectations worker, where it ran
            "gx_worker_peak_rss_mb": round(
                resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024) if run_gx
            else None}


def timed_ingest(extract: Path, warehouse: Path, run_gx: bool) -> dict[str, Any]:
    """:func:`run_ingest` in a fresh process, so its time includes importing what it needs
    and its peak memory is its own."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(run_ingest, extract, warehouse, run_gx).result()


def use_bytecode_cache(folder: Path) -> dict[str, Any]:
    """Let the ingest processes write and reuse bytecode under ``folder``, warmed by one
    import of what they import; returns what the results record about it."""
    forbidden = bool(os.environ.pop("PYTHONDONTWRITEBYTECODE", None))
    os.environ["PYTHONPYCACHEPREFIX"] = str(folder)
    warm = "import great_expectations, pipelines.ingest.pipeline"
    subprocess.run([sys.executable, "-c", warm], check=True, cwd=ROOT)
    return {"cache": "warmed, PYTHONPYCACHEPREFIX in the temporary folder",
            "environment_forbade_bytecode": forbidden}


def cold_gx_import_seconds(empty: Path) -> dict[str, float]:
    """``import great_expectations`` in a fresh process compiling every module anew (its
    bytecode is looked for in the folder ``empty`` and written nowhere)."""
    env = {**os.environ, "PYTHONPYCACHEPREFIX": str(empty)}
    code = ("import resource, time; t = time.perf_counter(); import great_expectations; "
            "u = resource.getrusage(resource.RUSAGE_SELF); "
            "print(time.perf_counter() - t, u.ru_utime + u.ru_stime)")
    out = subprocess.run([sys.executable, "-B", "-c", code], check=True, cwd=ROOT, env=env,
                         capture_output=True, text=True).stdout.split()
    return {"seconds": round(float(out[0]), 2), "cpu_seconds": round(float(out[1]), 2)}


def clean_bytes(warehouse: Path) -> dict[str, bytes]:
    return {n: (warehouse / f"{n}.parquet").read_bytes() for n in TABLES}


def gx_agrees(result: IngestResult) -> bool:
    """GX unexpected counts equal the polars quarantine counts for every rule."""
    for name, validation in result.validations.items():
        gx = {r: n for r, n in validation.unexpected_by_rule().items() if n}
        polars = {r: n for r, n in result.checked[name].broken.items()
                  if r not in validation.polars_enforced}
        if gx != polars or any(o.error for o in validation.outcomes):
            return False
    return True


def _quarantined(run: dict[str, Any]) -> dict[str, int]:
    return {n: c["quarantined"] for n, c in run["tables"].items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sponsors", type=int, default=12_000)
    parser.add_argument("--seed", type=int, default=20260701)
    parser.add_argument("--world", type=Path, help="reuse a simulated world folder")
    parser.add_argument("--no-csv", action="store_true", help="skip the CSV peer run")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp_name:
        tmp = Path(tmp_name)
        world = args.world or tmp / "world"
        simulate_seconds = None if args.world else simulate(world, args.sponsors, args.seed)
        load_before = os.getloadavg()[0]
        cold_import = cold_gx_import_seconds(tmp / "no-pycache")
        bytecode = use_bytecode_cache(tmp / "pycache")

        full = timed_ingest(world, tmp / "warehouse-gx", run_gx=True)
        polars_only = timed_ingest(world, tmp / "warehouse-polars", run_gx=False)
        before = clean_bytes(tmp / "warehouse-gx")
        rerun = timed_ingest(world, tmp / "warehouse-gx", run_gx=False)
        rerun_identical = clean_bytes(tmp / "warehouse-gx") == before

        csv_run: dict[str, Any] | None = None
        if not args.no_csv:
            as_csv(world, tmp / "world-csv")
            from_csv = timed_ingest(tmp / "world-csv", tmp / "warehouse-csv", run_gx=False)
            csv_run = {
                "seconds_total": from_csv["seconds_total"], "seconds": from_csv["seconds"],
                "peak_rss_mb": from_csv["peak_rss_mb"], "quarantined": _quarantined(from_csv),
                "clean_equal_to_parquet_run": all(
                    pl.read_parquet(tmp / "warehouse-csv" / f"{n}.parquet").equals(
                        pl.read_parquet(tmp / "warehouse-polars" / f"{n}.parquet"))
                    for n in TABLES)}

    gx_seconds = full["seconds"]["great_expectations"]
    gx_cpu = full["seconds"]["great_expectations_cpu"]
    rows_in = {n: c["rows_in"] for n, c in full["tables"].items()}
    results = {
        "benchmark": "ingest",
        "command": " ".join(["uv run python benchmarks/bench_ingest.py", *sys.argv[1:]]),
        "world": {"sponsors": args.sponsors, "seed": args.seed,
                  "simulate_seconds": simulate_seconds and round(simulate_seconds, 2),
                  "rows_in": rows_in, "rows_total": sum(rows_in.values())},
        "full_ingest_with_gx": {
            "seconds_total": full["seconds_total"], "seconds": full["seconds"],
            "cpu_seconds": full["cpu_seconds"],
            # GX runs in a worker process beside the polars work; its wall share is the
            # wait for it after polars' own work (it imports and validates meanwhile)
            "gx_share_of_total": round(gx_seconds / full["seconds_total"], 3),
            "gx_cpu_seconds": gx_cpu,
            "gx_cpu_share_of_cpu": round(gx_cpu / full["cpu_seconds"], 3),
            "gx_import_seconds_included": full["seconds"]["great_expectations_import"],
            "gx_import_cpu_seconds": full["seconds"]["great_expectations_import_cpu"],
            "gx_success": full["gx_success"],
            "gx_counts_agree_with_polars": full["gx_counts_agree_with_polars"],
            "expectations_evaluated": full["expectations_evaluated"],
            "gx_by_table": full["gx_by_table"],
            "peak_rss_mb": full["peak_rss_mb"],
            "gx_worker_peak_rss_mb": full["gx_worker_peak_rss_mb"],
            "quarantined": _quarantined(full)},
        "peer_polars_only": {
            "seconds_total": polars_only["seconds_total"], "seconds": polars_only["seconds"],
            "cpu_seconds": polars_only["cpu_seconds"],
            "peak_rss_mb": polars_only["peak_rss_mb"],
            "full_over_polars_only": round(
                full["seconds_total"] / polars_only["seconds_total"], 2),
            # GX's wall share judged against the peer run apart
            "share_of_full_not_in_polars_only": round(
                1 - polars_only["seconds_total"] / full["seconds_total"], 3),
            "full_over_polars_only_cpu": round(
                full["cpu_seconds"] / polars_only["cpu_seconds"], 2)},
        "rerun": {"seconds_total": rerun["seconds_total"],
                  "clean_tables_byte_identical": rerun_identical},
        "csv_extract_polars_only": csv_run,
        "cold_gx_import_without_bytecode_cache": cold_import,
        "bytecode": bytecode,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "load_average_1m_before": round(load_before, 1),
                    "load_average_1m_at_end": round(os.getloadavg()[0], 1),
                    "polars": pl.__version__},
        "note": "wall-clock on a shared 2-core machine; compare ratios within one run; "
                "each ingest runs in a fresh process (imports and peak memory its own)",
    }
    write_json_atomic(results, args.out)
    args.out.chmod(0o644)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
