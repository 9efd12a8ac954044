"""Is the nationality-mix FPR gap a size gap? The false-positive rate of the top k against
the simulated truth per nationality-mix group, raw and standardised to one size mix.

    uv run python benchmarks/fairness_by_size.py              # the bench_fairness world
    uv run python benchmarks/fairness_by_size.py --home HOME  # any scored simulated home

A sponsor with a single migrant always has a dominant region, while MIXED needs at least
two migrants from different regions, so the grouping leans on size, and size features drive
the scores of honest sponsors (bench_fairness's gap attribution). Direct standardisation
answers whether the gap survives when every group has the same size mix: each group's FPR
within each size class, weighted by the size mix of all honest sponsors. Ratios (for
groups with at least ``--min-honest`` honest sponsors) are to the audit's yardstick: the
lowest FPR among known groups expecting ``--min-expected`` false positives at the pooled
rate (the four-fifths direction: 1 is as good as it). Classes where a group has no honest
sponsor borrow the group's overall FPR. False positives are a handful per group and
snapshot, so every scored snapshot is pooled (a sponsor counts once per snapshot; the
snapshots share sponsors, so the counts are not independent): read the counts before the
ratios. Writes benchmarks/results/fairness_by_size.json.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "benchmarks" / "results" / "fairness_by_size.json"
DEFAULT_HOME = ROOT / "benchmarks" / ".cache" / "world-12000"


def honest_population(home: Path, first_only: bool) -> tuple[pl.DataFrame, list[str], int]:
    """Honest sponsor-snapshots of the scored snapshots (or only the earliest): selected
    (top k of its snapshot), nationality mix and size class as of that snapshot."""
    from sponsorwatch.settings import Settings
    from sponsorwatch.storage import scan_warehouse
    from training.fitting.scoring import load_score_snapshot, score_dates
    from training.governance.audit import audit_population
    from training.governance.groups import (
        RESTRICTED_GROUPING,
        audit_groups,
        load_restricted_attributes,
    )
    from training.governance.snapshot_audit import snapshot_predictions

    settings = Settings(home=home)
    tables = scan_warehouse(settings.warehouse_dir)
    days = score_dates(settings.scores_dir)[:1 if first_only else None]
    parts = []
    for day in days:
        scores, _ = load_score_snapshot(settings.scores_dir, day)
        predictions = snapshot_predictions(settings, scores, day, tables)
        if "truth" not in predictions.columns:
            sys.exit(f"{home}: no simulated truth next to the warehouse")
        population = audit_population(
            predictions, settings.inspection_capacity, audit_groups(tables, day).collect(),
            load_restricted_attributes(settings.warehouse_dir, day))
        parts.append(population.filter(pl.col("truth") == 0).select(
            "selected", RESTRICTED_GROUPING, "size_class"))
    return pl.concat(parts), [d.isoformat() for d in days], settings.inspection_capacity


def standardised_fpr(honest: pl.DataFrame, grouping: str, stratum: str) -> pl.DataFrame:
    """Per group: honest sponsors, raw FPR, and FPR standardised to the pooled stratum mix."""
    weights = honest.group_by(stratum).agg(weight=pl.len() / honest.height)
    overall = honest.group_by(grouping).agg(
        honest=pl.len(), false_positives=pl.col("selected").sum(),
        fpr=pl.col("selected").mean())
    cells = honest.group_by(grouping, stratum).agg(cell_fpr=pl.col("selected").mean())
    grid = overall.select(grouping, "fpr").join(weights, how="cross").join(
        cells, on=[grouping, stratum], how="left")
    standardised = grid.group_by(grouping).agg(
        fpr_size_standardised=(pl.col("cell_fpr").fill_null(pl.col("fpr"))
                               * pl.col("weight")).sum())
    return overall.join(standardised, on=grouping).sort(grouping)


def with_ratios(table: pl.DataFrame, grouping: str, min_honest: int,
                min_expected: float) -> pl.DataFrame:
    """Ratio of the yardstick group's FPR to each group's (1 = as good as it). The
    yardstick is chosen as the audit chooses it: the lowest FPR among known groups where
    ``min_expected`` false positives are expected at the pooled rate (a small group with
    none by chance would make every ratio zero)."""
    pooled = table["false_positives"].sum() / table["honest"].sum()
    eligible = table.filter((pl.col("honest") * pooled >= min_expected)
                            & (pl.col(grouping) != "UNKNOWN"))
    out = table
    for column in ("fpr", "fpr_size_standardised"):
        best = eligible[column].min()
        out = out.with_columns(
            pl.when(pl.col("honest") < min_honest).then(None)
            .when(pl.col(column) == 0).then(1.0)
            .otherwise(best / pl.col(column)).alias(f"{column}_ratio"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, default=DEFAULT_HOME)
    parser.add_argument("--min-honest", type=int, default=100)
    parser.add_argument("--min-expected", type=float, default=5.0)
    parser.add_argument("--first-only", action="store_true",
                        help="only the earliest snapshot (the monitoring audit's)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if not args.home.exists():
        sys.exit(f"{args.home}: run benchmarks/bench_fairness.py first to build the world")
    from sponsorwatch.storage import json_safe, write_json_atomic
    from training.governance.groups import RESTRICTED_GROUPING

    honest, days, k = honest_population(args.home, args.first_only)
    table = with_ratios(standardised_fpr(honest, RESTRICTED_GROUPING, "size_class"),
                        RESTRICTED_GROUPING, args.min_honest, args.min_expected)
    size_mix = (honest.group_by(RESTRICTED_GROUPING, "size_class").len()
                .pivot("size_class", index=RESTRICTED_GROUPING, values="len")
                .sort(RESTRICTED_GROUPING))
    result: dict[str, Any] = {
        "command": "uv run python benchmarks/fairness_by_size.py " + " ".join(sys.argv[1:]),
        "home": str(args.home), "snapshots": days, "k": k, "min_honest": args.min_honest,
        "min_expected": args.min_expected,
        "groups": table.to_dicts(), "honest_by_size_class": size_mix.to_dicts(),
        "lowest_ratio": {c: table[f"{c}_ratio"].drop_nulls().min()
                         for c in ("fpr", "fpr_size_standardised")}}
    write_json_atomic(json_safe(result), args.out)
    with pl.Config(tbl_rows=20, tbl_cols=10):
        print(table)
        print(size_mix)
    print(f"lowest ratio raw {result['lowest_ratio']['fpr']}, size-standardised "
          f"{result['lowest_ratio']['fpr_size_standardised']}; wrote {args.out}")


if __name__ == "__main__":
    main()
