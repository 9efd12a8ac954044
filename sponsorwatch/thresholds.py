"""Salary criteria: the shipped reference table and "the threshold in force on day D"."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import polars as pl

from sponsorwatch.contract import SALARY_THRESHOLDS


def shipped_thresholds_path() -> Path:
    return Path(str(resources.files("sponsorwatch") / "data" / "salary_thresholds.csv"))


def load_thresholds(path: Path | None = None) -> pl.DataFrame:
    """Read the threshold table (``#`` lines are comments), typed and sorted by date.

    Raises:
        ValueError: naming the file when a row is malformed or a key repeats.
    """
    source = path or shipped_thresholds_path()
    try:
        frame = pl.read_csv(source, comment_prefix="#", schema_overrides={
            "valid_from": pl.Date, "scheme": pl.String, "monthly_threshold": pl.Float64})
    except Exception as exc:  # polars raises several types for one cause: a bad file
        raise ValueError(f"{source}: cannot read salary thresholds: {exc}") from exc
    missing = set(SALARY_THRESHOLDS.column_names) - set(frame.columns)
    if missing:
        raise ValueError(f"{source}: missing column(s) {sorted(missing)}")
    bad = frame.filter(~pl.col("scheme").is_in(list(SALARY_THRESHOLDS.column("scheme").enum or ()))
                       | (pl.col("monthly_threshold") <= 0) | pl.col("valid_from").is_null())
    if bad.height:
        raise ValueError(f"{source}: invalid threshold rows: {bad.to_dicts()[:3]}")
    if frame.select(pl.struct("valid_from", "scheme").is_duplicated().any()).item():
        raise ValueError(f"{source}: (valid_from, scheme) repeats")
    return frame.select(SALARY_THRESHOLDS.column_names).sort("valid_from", "scheme")


def with_threshold_in_force(lf: pl.LazyFrame, thresholds: pl.DataFrame | pl.LazyFrame,
                            date_col: str, scheme_col: str = "scheme",
                            out: str = "threshold") -> pl.LazyFrame:
    """Add the threshold of ``scheme_col`` in force on ``date_col`` (latest valid_from <= day).

    Rows dated before the first threshold get null.
    """
    table = thresholds.lazy().select(
        pl.col("scheme").alias(scheme_col), pl.col("valid_from").alias("__valid_from"),
        pl.col("monthly_threshold").alias(out)).sort("__valid_from")
    return (lf.sort(date_col)
            .join_asof(table, left_on=date_col, right_on="__valid_from", by=scheme_col,
                       strategy="backward", check_sortedness=False)
            .drop("__valid_from"))


def threshold_on(thresholds: pl.DataFrame, scheme: str, day: object) -> float | None:
    """The threshold of one scheme in force on one day (for reports and single lookups)."""
    rows = thresholds.filter((pl.col("scheme") == scheme) & (pl.col("valid_from") <= day))
    return None if rows.is_empty() else float(rows["monthly_threshold"][-1])
