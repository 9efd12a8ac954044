"""How long the three notebooks take on a small scored home, as the tests run them.

Builds one home with the demo's stages (as the tests' ``scored_home`` does), then
executes 01 beside 03 then 02 (as the tests do) with nbclient on kernels of this venv's
Python, recording the wall time of the three together and, for each,
the wall time and the CPU time of its kernel process (on a busy shared machine wall time is
mostly waiting; CPU time is what a quiet machine would need). Peer, in the same run: the
retrain and promotion of notebook 03 done directly through ``training.jobs.train.run_training``
and ``training.registry.promotion.promote`` on a copy of the same home, so the notebook's own
overhead (kernel start, imports, tables and charts) shows as a ratio.

    uv run python benchmarks/bench_notebooks.py            # 400 sponsors
    uv run python benchmarks/bench_notebooks.py --sponsors 1000

Writes benchmarks/results/notebooks.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import nbformat
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "notebooks"))

from notebook_runner import KERNEL_NAME, NOTEBOOKS, NotebookRunner, write_kernel_spec  # noqa: E402

from sponsorwatch.settings import Settings  # noqa: E402


def build_home(home: Path, sponsors: int, seed: int) -> float:
    """A scored home made by the demo's stages without GX or plots (as the tests'
    ``scored_home`` fixture makes it); returns its wall seconds."""
    from pipelines.run import run_demo

    started = time.perf_counter()
    settings = Settings(home=home, mlflow_tracking_uri=f"sqlite:///{home / 'mlflow.db'}")
    run_demo(settings, sponsors, seed, run_gx=False, plots=False)
    return time.perf_counter() - started


def run_notebook(runner: NotebookRunner, name: str, home: Path) -> dict[str, float]:
    """Execute one notebook; wall seconds and the kernel's CPU seconds."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    manager = KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=KernelSpecManager(
        kernel_dirs=[str(runner.kernels_dir)], ensure_native_kernel=False))
    started = time.perf_counter()
    manager.start_kernel(env=runner.kernel_env(home), cwd=str(NOTEBOOKS))
    try:
        kernel = psutil.Process(manager.provisioner.process.pid)  # type: ignore[union-attr]
        NotebookClient(notebook, km=manager, kernel_name=KERNEL_NAME, timeout=1200,
                       resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
        cpu = kernel.cpu_times()
        wall = time.perf_counter() - started
    finally:
        manager.shutdown_kernel(now=True)
    images = sum("image/png" in o.get("data", {}) for c in notebook.cells
                 for o in c.get("outputs", []))
    return {"wall_s": round(wall, 2), "kernel_cpu_s": round(cpu.user + cpu.system, 2),
            "images": images}


def run_as_the_tests_do(runner: NotebookRunner, home: Path) -> dict[str, Any]:
    """01 beside 03 then 02, as tests/notebooks/conftest.py runs them."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        explored = pool.submit(run_notebook, runner, "01-explore-world", home)
        notebooks = {name: run_notebook(runner, name, home)
                     for name in ("03-retrain", "02-model-report")}
        notebooks["01-explore-world"] = explored.result()
    for name, figures in notebooks.items():
        print(name, figures, flush=True)
    return notebooks


def direct_retrain(home: Path) -> float:
    """The peer: notebook 03's retrain and promotion without a notebook."""
    from training.fitting.models import XGBParams
    from training.fitting.train import TrainConfig
    from training.jobs.train import run_training
    from training.registry.loading import load_model
    from training.registry.promotion import promote
    from training.registry.tracking import CHAMPION

    started = time.perf_counter()
    settings = Settings(home=home, mlflow_tracking_uri=f"sqlite:///{home / 'mlflow.db'}")
    champion, info = load_model(settings, CHAMPION)
    window = info["training_window"]
    config = TrainConfig(until=date.fromisoformat(window["until"]),
                         horizon_months=int(window["horizon_months"]),
                         params=XGBParams(**champion.metadata["params"]).with_updates(
                             n_estimators=120, max_depth=3, learning_rate=0.1),
                         seed=settings.seed, capacity=settings.inspection_capacity)
    run_training(settings, config, experiment="bench-direct", plots=False)
    promote(settings)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sponsors", type=int, default=400)
    parser.add_argument("--seed", type=int, default=20260701)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/notebooks.json")
    args = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-notebooks-") as tmp_name:
        tmp = Path(tmp_name)
        build_s = build_home(tmp / "scored", args.sponsors, args.seed)
        shutil.copytree(tmp / "scored", tmp / "notebooks")
        shutil.copytree(tmp / "scored", tmp / "direct")
        runner = NotebookRunner(write_kernel_spec(tmp / "kernels"), tmp / "bytecode")
        started = time.perf_counter()
        notebooks = run_as_the_tests_do(runner, tmp / "notebooks")
        together_wall = time.perf_counter() - started
        direct_s = direct_retrain(tmp / "direct")
    total_wall = sum(n["wall_s"] for n in notebooks.values())
    total_cpu = sum(n["kernel_cpu_s"] for n in notebooks.values())
    result = {
        "sponsors": args.sponsors, "seed": args.seed, "cpu_count": os.cpu_count(),
        "load_average_1m_before": round(load_before[0], 2),
        "load_average_1m_after": round(os.getloadavg()[0], 2),
        "home_build_wall_s": round(build_s, 2),
        "notebooks": notebooks,
        "notebooks_together_wall_s": round(together_wall, 2),
        "notebooks_total_wall_s": round(total_wall, 2),
        "notebooks_total_kernel_cpu_s": round(total_cpu, 2),
        "peer_direct_retrain_and_promote_wall_s": round(direct_s, 2),
        "ratio_notebook_03_to_direct_wall": round(notebooks["03-retrain"]["wall_s"] / direct_s, 2),
        "note": "the first kernel compiles bytecode into a shared cache (the tests do the same)",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
