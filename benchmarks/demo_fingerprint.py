"""Same seed, same numbers: the demo's registered metrics and ranked lists, fingerprinted.

    uv run python benchmarks/demo_fingerprint.py [--sponsors 12000] [--seed 42]
        [--out benchmarks/results/demo_fingerprint.json]
    uv run python benchmarks/demo_fingerprint.py --compare benchmarks/results/demo_fingerprint.json

Runs ``sponsorwatch demo --no-serve`` (great-expectations and plots off: neither changes a
number) in a fresh home through the command line, so it reads the same before and after
code moves between packages. Then it records every metric of the champion's MLflow run,
and for each score snapshot the sponsors in rank order with their scores (a SHA-256 of
the whole list, and the top 20 in the clear). ``--compare`` reruns and fails (exit 1)
on any difference, printing what differs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "demo_fingerprint.json"
MODEL_NAME = "sponsor-risk"


def run_demo(home: Path, sponsors: int, seed: int) -> float:
    """The demo as a user runs it, minus the server; returns its wall seconds."""
    env = {**os.environ, "SPONSORWATCH_HOME": str(home)}
    env.pop("MLFLOW_TRACKING_URI", None)
    started = time.perf_counter()
    subprocess.run(["uv", "run", "sponsorwatch", "demo", "--sponsors", str(sponsors),
                    "--seed", str(seed), "--no-serve", "--no-gx", "--no-plots"],
                   cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def registered_metrics(home: Path) -> dict[str, Any]:
    """Every metric of the run behind the champion, by name, with the version's tags."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{(home / 'mlflow.db').resolve()}")
    version = client.get_model_version_by_alias(MODEL_NAME, "champion")
    run = client.get_run(version.run_id)
    return {"version": version.version,
            "metrics": dict(sorted(run.data.metrics.items())),
            "params": dict(sorted(run.data.params.items()))}


def ranked_lists(home: Path) -> dict[str, Any]:
    """Per score snapshot: sponsors in rank order with their scores, hashed and the top 20."""
    import polars as pl

    snapshots: dict[str, Any] = {}
    for path in sorted((home / "scores").glob("as_of=*/scores.parquet")):
        frame = (pl.read_parquet(path).select("sponsor_id", "score")
                 .sort(["score", "sponsor_id"], descending=[True, False]))
        lines = "\n".join(f"{sid}\t{score!r}" for sid, score in frame.iter_rows())
        snapshots[path.parent.name] = {
            "sponsors": frame.height,
            "sha256": hashlib.sha256(lines.encode()).hexdigest(),
            "top20": [[sid, score] for sid, score in frame.head(20).iter_rows()],
        }
    return snapshots


def fingerprint(sponsors: int, seed: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="sw-fingerprint-") as tmp:
        home = Path(tmp) / "home"
        seconds = run_demo(home, sponsors, seed)
        return {"command": " ".join(sys.argv), "sponsors": sponsors, "seed": seed,
                "demo_seconds": round(seconds, 1),
                "registered": registered_metrics(home), "scores": ranked_lists(home)}


def differences(expected: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    found = []
    for section in ("registered", "scores"):
        want, got = expected[section], actual[section]
        for key in sorted(set(want) | set(got)):
            if want.get(key) != got.get(key):
                found.append(f"{section}.{key}: expected {json.dumps(want.get(key))[:300]} "
                             f"got {json.dumps(got.get(key))[:300]}")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sponsors", type=int, default=12_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--compare", type=Path, default=None,
                        help="A fingerprint to compare with; exit 1 on any difference")
    args = parser.parse_args()
    if args.compare is not None:
        expected = json.loads(args.compare.read_text())
        actual = fingerprint(expected["sponsors"], expected["seed"])
        found = differences(expected, actual)
        for line in found:
            print(line)
        print("identical" if not found else f"{len(found)} differences")
        return 1 if found else 0
    result = fingerprint(args.sponsors, args.seed)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out} ({result['demo_seconds']} s demo)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
