"""CPU per feature family for one snapshot, to find what grows faster than the world.

    uv run python benchmarks/bench_feature_families.py                 # 12,000 sponsors
    uv run python benchmarks/bench_feature_families.py --sponsors 120000
    uv run python benchmarks/bench_feature_families.py --world DIR      # a simulated extract

Loads the extract into memory first (so reading Parquet is not counted), then builds the
features of each family alone, and of each link feature alone, as of the last day of the
simulated window. Also how large the officers' groups of sponsors are: pairs of sponsors
sharing an officer grow with the square of a trust office's size, so the officer links form
pairs only in groups of at most features.links.HUB_SPONSORS sponsors and count the hubs'
groups without pairs. Writes benchmarks/results/feature_families_<sponsors>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_features import (  # noqa: E402
    LAST_AS_OF,
    SEED,
    describe_world,
    ensure_world,
    scan_extract,
)


def timed_build(tables: dict[str, Any], names: list[str]) -> dict[str, float]:
    from features.build import ENGINE, build_features
    from sponsorwatch.thresholds import load_thresholds

    wall, cpu = time.perf_counter(), time.process_time()
    build_features(tables, LAST_AS_OF, load_thresholds(), True, names).collect(engine=ENGINE)
    return {"wall_s": round(time.perf_counter() - wall, 3),
            "cpu_s": round(time.process_time() - cpu, 3)}


def officer_groups(tables: dict[str, Any]) -> dict[str, int]:
    """How large the officers' groups of sponsors are (every version of the extract):
    the pairs all groups would form, and those the officer links form (small groups)."""
    import polars as pl

    from features.links import HUB_SPONSORS

    per_officer = (tables["sponsor_officers"].select("sponsor_id", "officer_key").unique()
                   .group_by("officer_key").len().collect())
    squares = per_officer["len"].cast(pl.Int64) ** 2
    small = per_officer["len"] <= HUB_SPONSORS
    return {"officers": per_officer.height,
            "largest_group": int(per_officer["len"].max() or 0),
            "pairs_sum_of_squares": int(squares.sum()),
            "hub_sponsors": HUB_SPONSORS, "hubs": int((~small).sum()),
            "pairs_formed_in_small_groups": int(squares.filter(small).sum())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sponsors", type=int, default=12_000)
    parser.add_argument("--world", type=Path, help="simulated extract to reuse (or create)")
    args = parser.parse_args()
    from features.links import FEATURE_NAMES as LINK_FEATURES
    from features.registry import FAMILIES

    world = ensure_world(args.world or Path(tempfile.mkdtemp(prefix="bench-families-")),
                         args.sponsors)
    tables = {name: frame.collect().lazy() for name, frame in scan_extract(world).items()}
    described = describe_world(world)
    sponsors = described["sponsors"]
    result: dict[str, Any] = {
        "command": "uv run python benchmarks/bench_feature_families.py"
                   + ("" if args.sponsors == 12_000 else f" --sponsors {args.sponsors}"),
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(), "sponsors": sponsors, "seed": SEED, "as_of": str(LAST_AS_OF),
        "world": described,
        "load_average_before": os.getloadavg(),
        "officer_groups": officer_groups(tables),
        "families": {f.name: timed_build(tables, [x.name for x in f.features])
                     for f in FAMILIES},
        "link_features": {name: timed_build(tables, [name]) for name in LINK_FEATURES},
    }
    result["load_average_after"] = os.getloadavg()
    out = ROOT / "benchmarks" / "results" / f"feature_families_{sponsors}.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({"families": result["families"], "links": result["link_features"]},
                     indent=1))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
