"""How much an earlier backtest protocol overstated the model: the same world, the same
feature snapshots, the same `sponsorwatch train` defaults (`--correction auto`), trained
once with this tree's code and once with the code of an earlier commit (default
``aa1fa16``: one label knowledge date for every fold, the correction chosen on folds that
include the holdout, the calibrator fitted on another booster than the one served).

    uv run python benchmarks/bench_backtest.py                  # 12,000 sponsors, 3 world seeds
    uv run python benchmarks/bench_backtest.py --sponsors 3000 --seeds 1,2 --workdir /tmp/bt

Each protocol reports its holdout metrics (labelled inspections, RANDOM inspections) as the
run would log them, and the same holdout rows are scored against the simulated truth, which
no protocol sees. "Overstated by" is the earlier protocol's reported figure minus this
tree's, on the same world. The earlier commit runs from a `git worktree` of this clone
(so the clone needs its history) on this environment's packages.

Writes benchmarks/results/backtest.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "backtest.json"
UNTIL = dt.date(2024, 6, 30)
FIRST_SNAPSHOT = dt.date(2019, 6, 30)
EARLIER_PROTOCOL = "aa1fa16"
#: The figures compared: the run's own holdout metrics and the truth on the same rows.
REPORTED = ("xgboost.labelled.precision_at_100", "xgboost.labelled.average_precision",
            "xgboost.random.precision_at_100", "xgboost.random.average_precision",
            "xgboost.random.brier", "xgboost.labelled.brier")
TRUTH = ("xgboost.truth.precision_at_100", "xgboost.truth.average_precision")

#: Run inside each protocol's code (a child process whose sys.path starts at its tree).
TRAIN_SNIPPET = """
import json, sys, datetime as dt
from pathlib import Path
from sponsorwatch.settings import Settings
from training.fitting.train import TrainConfig
from training.jobs.train import run_training
home, until = Path(sys.argv[1]), dt.date.fromisoformat(sys.argv[2])
config = TrainConfig(until=until, correction="none")
result, _ = run_training(Settings(home=home), config, experiment="backtest",
                         compare_corrections=True, plots=False, log=False)
holdout = result.holdout
print(json.dumps({
    "correction_kept": result.config.correction,
    "holdout_fold": holdout.fold.as_dict(),
    "holdout": holdout.metrics,
    "pooled": result.pooled_metrics(),
    "model_metadata": {k: v for k, v in result.model.metadata.items()
                       if k not in ("params",)},
}, default=str))
"""


def run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, check=True, text=True, **kwargs)


def sponsorwatch(*args: str) -> None:
    run([str(Path(sys.executable).parent / "sponsorwatch"), *args], cwd=ROOT,
        stdout=subprocess.DEVNULL)


def prepare_home(workdir: Path, sponsors: int, seed: int) -> Path:
    world, home = workdir / "world", workdir / "home"
    if not (world / "truth.parquet").exists():
        sponsorwatch("simulate", "--out", str(world), "--sponsors", str(sponsors),
                     "--seed", str(seed))
    if not (home / "warehouse" / "manifest.json").exists():
        sponsorwatch("--home", str(home), "ingest", str(world), "--skip-gx")
    if not (home / "features" / f"as_of={UNTIL}").exists():
        sponsorwatch("--home", str(home), "features", "--from", str(FIRST_SNAPSHOT), "--to",
                     str(UNTIL), "--every", "quarter")
    return home


def earlier_tree(workdir: Path, commit: str) -> Path:
    tree = workdir / f"tree-{commit}"
    if not tree.exists():
        run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), commit],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return tree


def train_with(tree: Path, home: Path) -> tuple[dict[str, Any], float]:
    """The training step of ``tree``'s code on ``home``: its holdout metrics and seconds."""
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
    started = time.perf_counter()
    out = run([sys.executable, "-c", TRAIN_SNIPPET, str(home), str(UNTIL)], cwd=tree,
              env=env, capture_output=True)
    return json.loads(out.stdout.strip().splitlines()[-1]), time.perf_counter() - started


def pick(metrics: dict[str, Any], keys: tuple[str, ...]) -> dict[str, float | None]:
    return {k: (round(metrics[k], 4) if metrics.get(k) is not None else None) for k in keys}


def compare_on_world(workdir: Path, sponsors: int, seed: int, earlier_commit: str,
                     commit: str) -> dict[str, Any]:
    """Both protocols on one world: their reported holdout figures, the truth on the same
    rows, and the earlier minus the honest figure."""
    home = prepare_home(workdir / f"seed-{seed}", sponsors, seed)
    earlier, earlier_s = train_with(earlier_tree(workdir, earlier_commit), home)
    honest, honest_s = train_with(ROOT, home)
    protocols = {}
    for name, result, seconds in (("earlier", earlier, earlier_s), ("honest", honest, honest_s)):
        protocols[name] = {
            "code": earlier_commit if name == "earlier" else commit,
            "correction_kept": result["correction_kept"],
            "holdout_fold": result["holdout_fold"],
            "reported_on_holdout": pick(result["holdout"], REPORTED),
            "truth_on_holdout": pick(result["holdout"], TRUTH),
            "calibration": {k: result["model_metadata"].get(k)
                            for k in ("calibration", "calibration_scheme")},
            "train_seconds": round(seconds, 1),
        }
    first, second = protocols["earlier"], protocols["honest"]
    return {"seed": seed, "protocols": protocols,
            "overstated_by_earlier_protocol": {
                **{k: difference(first["reported_on_holdout"][k],
                                 second["reported_on_holdout"][k]) for k in REPORTED},
                **{k: difference(first["truth_on_holdout"][k], second["truth_on_holdout"][k])
                   for k in TRUTH}}}


def difference(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else round(a - b, 4)


def mean_over_worlds(worlds: list[dict[str, Any]]) -> dict[str, float | None]:
    keys = worlds[0]["overstated_by_earlier_protocol"]
    out: dict[str, float | None] = {}
    for key in keys:
        values = [w["overstated_by_earlier_protocol"][key] for w in worlds
                  if w["overstated_by_earlier_protocol"][key] is not None]
        out[key] = round(sum(values) / len(values), 4) if values else None
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sponsors", type=int, default=12_000)
    parser.add_argument("--seeds", default="20260630,20260701,20260702",
                        help="comma-separated world seeds (default %(default)s)")
    parser.add_argument("--earlier", default=EARLIER_PROTOCOL,
                        help="commit whose protocol is compared (default %(default)s)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep the worlds, homes and worktree here (reused when present)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="sponsorwatch-backtest-"))
    commit = run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                 capture_output=True).stdout.strip()
    seeds = [int(s) for s in args.seeds.split(",")]
    worlds = [compare_on_world(workdir, args.sponsors, seed, args.earlier, commit)
              for seed in seeds]
    report = {
        "command": "uv run python benchmarks/bench_backtest.py"
                   + (f" --sponsors {args.sponsors}" if args.sponsors != 12_000 else ""),
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "sponsors": args.sponsors,
        "until": str(UNTIL),
        "worlds": worlds,
        "mean_overstated_by_earlier_protocol": mean_over_worlds(worlds),
        "note": "reported = the run's own holdout metrics; truth = the same rows against the "
                "simulated truth (seen by no protocol); overstated = earlier minus honest "
                "(for Brier, lower is better, so a positive value means the earlier protocol "
                "reported a worse Brier)",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report["mean_overstated_by_earlier_protocol"], indent=2))


if __name__ == "__main__":
    main()
