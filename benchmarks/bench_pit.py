"""The contract's test of the point-in-time rule on a large simulated world.

    uv run python benchmarks/bench_pit.py                    # 12,000 sponsors
    uv run python benchmarks/bench_pit.py --sponsors 400     # a quick look

For 12 month-ends T, the features as of T built from the whole extract (as
``sponsorwatch features`` builds them) must equal, to the last value, those built from the
extract cut to what was recorded by T (``features.cut``). Runs on three extracts of one
world: as the simulator writes it, under contract version 1 (the latest version of each
record, no ``recorded_on``), and that version 1 extract given versions of contract
version 2 here, independently of the simulator (:func:`with_contract_versions`:
revocations recorded weeks after their effect or ahead of it, SBI code, address and name
changes recorded later, officers registered late, inspections recorded open and then
closed, outcomes changed on appeal). Records the sponsor-snapshots compared, every
difference (there must be none) and the timings in benchmarks/results/pit.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: the packages live in the repo root
    sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "benchmarks" / "results" / "pit.json"
SEED = 20240601
#: 12 month-ends, one a quarter over the last three years of the simulated window.
FIRST_AS_OF, LAST_AS_OF = dt.date(2023, 3, 31), dt.date(2025, 12, 31)
#: The day the simulated extract is delivered: nothing recorded later is in it.
EXTRACT_DAY = dt.date(2025, 12, 31)

DAY = pl.duration(days=1)


def as_of_dates() -> list[dt.date]:
    from features.build import as_of_dates as dates

    return dates(FIRST_AS_OF, LAST_AS_OF, "quarter")


def _draws(frame: pl.DataFrame, **columns: np.ndarray) -> pl.DataFrame:
    """``frame`` with drawn columns; those named ``*_lag`` (whole days) as durations."""
    return frame.with_columns(
        (pl.lit(pl.Series(name, values)) * DAY).alias(name) if name.endswith("_lag")
        else pl.lit(pl.Series(name, values)) for name, values in columns.items())


def _sponsor_versions(sponsors: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """Per sponsor: the first version (before any change, without the end), a change of
    SBI code, address and name for three in ten, and the end as its own version, recorded
    on its effective day, weeks after it (retroactive) or ahead of it."""
    n = sponsors.height
    # the end: recorded on its day (3 in 10), 1 to 13 weeks after it, or up to a month ahead
    end_lag = np.select([rng.random(n) < 0.3, rng.random(n) < 0.8],
                        [np.zeros(n, dtype=int), rng.integers(7, 91, n)],
                        -rng.integers(1, 31, n))
    s = _draws(sponsors,
               first_lag=np.where(rng.random(n) < 0.3, rng.integers(1, 31, n), 0),
               change=rng.random(n) < 0.3, change_at=rng.random(n),
               change_lag=rng.integers(0, 61, n), end_lag=end_lag)
    horizon = pl.coalesce("recognition_ended_on", pl.lit(EXTRACT_DAY))
    span = (horizon - pl.col("recognised_on")).dt.total_days()
    s = s.with_columns(
        (pl.col("recognised_on") + pl.col("first_lag")).alias("first_recorded"),
        (pl.col("change") & (span > 60)).alias("change"),
        (pl.col("recognised_on") + ((30 + pl.col("change_at") * (span - 60)).cast(pl.Int64)
                                    * DAY)).alias("change_on"),
    ).with_columns(
        pl.max_horizontal(pl.col("change_on") + pl.col("change_lag"),
                          pl.col("first_recorded") + DAY).alias("change_recorded"),
    ).with_columns(
        pl.when(pl.col("change")).then("change_recorded").otherwise("first_recorded")
        .alias("before_end"),
        (pl.col("recognition_ended_on") + pl.col("end_lag")).alias("end_recorded"))
    columns = sponsors.columns
    other = pl.col("sbi_code").shift(1, fill_value=pl.col("sbi_code").last())
    old = s.with_columns(
        pl.when(pl.col("change")).then(other).otherwise("sbi_code").alias("sbi_code"),
        pl.when(pl.col("change")).then(pl.concat_str(pl.lit("old-"), "sponsor_id"))
        .otherwise("address_key").alias("address_key"),
        pl.when(pl.col("change")).then(pl.col("postcode4").shift(1)).otherwise("postcode4")
        .alias("postcode4"),
        pl.when(pl.col("change")).then(pl.concat_str("name", pl.lit(" (formerly)")))
        .otherwise("name").alias("name"))
    no_end = {"recognition_ended_on": pl.lit(None, dtype=pl.Date),
              "recognition_end_reason": pl.lit(None, dtype=pl.String)}
    first = old.with_columns(**no_end, recorded_on=pl.col("first_recorded"))
    changed = s.filter("change").with_columns(**no_end, recorded_on=pl.col("change_recorded"))
    ended = s.filter(pl.col("recognition_ended_on").is_not_null()).with_columns(
        recorded_on=pl.max_horizontal("end_recorded", pl.col("before_end") + DAY))
    return pl.concat([f.select(columns + ["recorded_on"]) for f in (first, changed, ended)])


def _officer_versions(officers: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """Appointments registered on the day or up to two months late; a departure is a
    later version carrying to_date, registered up to six weeks after it."""
    n = officers.height
    o = _draws(officers, first_lag=np.where(rng.random(n) < 0.5, rng.integers(1, 61, n), 0),
               end_lag=rng.integers(0, 46, n))
    first_recorded = pl.col("from_date") + pl.col("first_lag")
    first = o.with_columns(pl.lit(None, dtype=pl.Date).alias("to_date"),
                           first_recorded.alias("recorded_on"))
    ended = o.filter(pl.col("to_date").is_not_null()).with_columns(
        pl.max_horizontal(pl.col("to_date") + pl.col("end_lag"), first_recorded + DAY)
        .alias("recorded_on"))
    return pl.concat([f.select(officers.columns + ["recorded_on"]) for f in (first, ended)])


def _inspection_versions(inspections: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """Half the closed inspections also recorded open on their opening day; outcomes
    recorded up to a month after closing; a fifth of the violations changed on objection or
    appeal two to eight months later (overturned, or the fine halved)."""
    n = inspections.height
    i = _draws(inspections, open_version=rng.random(n) < 0.5, close_lag=rng.integers(0, 31, n),
               appeal=rng.random(n) < 0.2, appeal_lag=rng.integers(60, 241, n),
               overturned=rng.random(n) < 0.5)
    closed = pl.col("closed_on").is_not_null()
    opened_version = i.filter(~closed | pl.col("open_version")).with_columns(
        pl.lit(None, dtype=pl.Date).alias("closed_on"), pl.lit("OPEN").alias("outcome"),
        pl.lit(None, dtype=inspections.schema["findings"]).alias("findings"),
        pl.lit(None, dtype=pl.Float64).alias("fine_eur"), pl.col("opened_on").alias("recorded_on"))
    closed_recorded = pl.max_horizontal(pl.col("closed_on") + pl.col("close_lag"),
                                        pl.col("opened_on") + DAY)
    outcome = i.filter(closed).with_columns(closed_recorded.alias("recorded_on"))
    appealed = outcome.filter(pl.col("appeal") & (pl.col("outcome") == "VIOLATION")).with_columns(
        pl.when("overturned").then(pl.lit("NO_VIOLATION")).otherwise("outcome").alias("outcome"),
        pl.when("overturned").then(None).otherwise("findings").alias("findings"),
        pl.when("overturned").then(None).otherwise(pl.col("fine_eur") / 2).alias("fine_eur"),
        (pl.col("recorded_on") + pl.col("appeal_lag")).alias("recorded_on"))
    return pl.concat([f.select(inspections.columns + ["recorded_on"])
                      for f in (opened_version, outcome, appealed)])


VERSIONS = {"sponsors": _sponsor_versions, "sponsor_officers": _officer_versions,
            "inspections": _inspection_versions}


def with_contract_versions(tables: dict[str, pl.DataFrame], seed: int = 0,
                           extract_day: dt.date = EXTRACT_DAY) -> dict[str, pl.DataFrame]:
    """A version 1 world given the versions contract version 2 describes.

    Each of sponsors, sponsor_officers and inspections that has no ``recorded_on`` column
    is replaced by versions of its rows (see the functions above); versions recorded after
    ``extract_day`` are not in the extract. Tables that already carry ``recorded_on`` and
    the other tables pass unchanged.
    """
    rng = np.random.default_rng(seed)
    out = dict(tables)
    for name, versions in VERSIONS.items():
        if name in tables and "recorded_on" not in tables[name].columns:
            out[name] = versions(tables[name], rng).filter(pl.col("recorded_on") <= extract_day)
    return out


def as_version_1(tables: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """The same world delivered under contract version 1: the latest version of each
    record, without ``recorded_on``."""
    from sponsorwatch.history import current

    return {name: current(name, frame).drop("recorded_on")
            if name in VERSIONS and "recorded_on" in frame.columns else frame
            for name, frame in tables.items()}


def extracts(world: dict[str, pl.DataFrame], seed: int) -> dict[str, dict[str, pl.DataFrame]]:
    """Three deliveries of one simulated world: as the simulator writes it (version 2 once
    it writes versions), under version 1 (latest versions only), and that version 1 world
    with the versions of :func:`with_contract_versions` (independent of the simulator)."""
    version_1 = as_version_1(world)
    return {"as_simulated": world, "version_1": version_1,
            "versions_added": with_contract_versions(version_1, seed)}


def version_counts(tables: dict[str, pl.DataFrame]) -> dict[str, Any]:
    """Rows and records of each versioned table, and records with more than one version."""
    from sponsorwatch.history import entity_key

    out: dict[str, Any] = {}
    for name in VERSIONS:
        frame = tables[name]
        if "recorded_on" not in frame.columns:
            out[name] = {"rows": frame.height, "recorded_on": False}
            continue
        per_record = frame.group_by(entity_key(name)).len()
        out[name] = {"rows": frame.height, "records": per_record.height,
                     "with_several_versions": int((per_record["len"] > 1).sum()),
                     "recorded_on": True}
    return out


def peak_memory_gb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2, 3)


def run(tables: dict[str, pl.DataFrame], dates: list[dt.date]) -> dict[str, Any]:
    """The comparison on every date; counts, differences and seconds."""
    from features.cut import compare_cut_and_whole
    from features.registry import feature_names
    from sponsorwatch.thresholds import load_thresholds

    timings: dict[str, float] = {}
    lazy = {name: frame.lazy() for name, frame in tables.items() if name != "truth"}
    cpu = time.process_time()
    results = compare_cut_and_whole(lazy, dates, load_thresholds(), use_sector=True,
                                    timings=timings)
    snapshots = sum(r.sponsors for r in results)
    return {
        "versions": version_counts(tables),
        "sponsor_snapshots_compared": snapshots,
        "values_compared": snapshots * len(feature_names(use_sector=True)),
        "differences": sum(sum(r.differences.values()) + len(r.only_whole) + len(r.only_cut)
                           for r in results),
        "identical": all(r.identical for r in results),
        "per_date": [{"as_of": r.as_of.isoformat(), "sponsors": r.sponsors,
                      **({} if r.identical else {"differences": r.differences,
                                                 "only_whole": r.only_whole[:10],
                                                 "only_cut": r.only_cut[:10],
                                                 "examples": r.examples})}
                     for r in results],
        "seconds": {"whole_12_snapshots": timings["whole"],
                    "cut_and_build_12_snapshots": timings["cut"],
                    "per_cut_snapshot": round(timings["cut"] / len(dates), 3),
                    "cpu": round(time.process_time() - cpu, 3)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sponsors", type=int, default=12_000)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    from features.registry import FEATURE_SET_VERSION, feature_names
    from pipelines.simulate import simulate_world

    command = "uv run python benchmarks/bench_pit.py" + (
        f" --sponsors {args.sponsors}" if args.sponsors != 12_000 else "")
    dates = as_of_dates()
    load_before = os.getloadavg()
    started = time.perf_counter()
    world = simulate_world(args.sponsors, args.seed)
    simulated = round(time.perf_counter() - started, 3)
    result: dict[str, Any] = {
        "benchmark": "pit",
        "command": command,
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "load_average_before": load_before},
        "sponsors": args.sponsors, "seed": args.seed,
        "as_of_dates": [d.isoformat() for d in dates],
        "feature_set_version": FEATURE_SET_VERSION,
        "features": len(feature_names(use_sector=True)),
        "simulate_seconds": simulated,
        "extracts": {},
    }
    for name, tables in extracts(world, args.seed).items():
        result["extracts"][name] = run(tables, dates)
        print(f"{name}: {result['extracts'][name]['sponsor_snapshots_compared']} "
              f"sponsor-snapshots, {result['extracts'][name]['differences']} differences",
              file=sys.stderr)
    result["machine"]["load_average_after"] = os.getloadavg()
    result["peak_memory_gb"] = peak_memory_gb()
    result["identical"] = all(e["identical"] for e in result["extracts"].values())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k != "extracts"}, indent=1))
    if not result["identical"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
