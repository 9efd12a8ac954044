"""The crude rule of the past, kept as a baseline: risk-based selection by a checklist.

A sponsor scores one point for each of: small (few employees), young (recently founded),
in a sector long seen as risky (restaurants, hair and beauty, cleaning, agriculture), and
many permit applications for its size. Within a number of points, more permits per
employee ranks first. It learns nothing, so it is the same on every fold.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

SMALL_HEADCOUNT = 10
YOUNG_YEARS = 3.0
MANY_PERMITS_PER_HEADCOUNT = 0.5
#: SBI divisions: 01 agriculture, 56 food and beverage service, 81 cleaning, 96 personal
#: services (hairdressers, beauty).
RISKY_DIVISIONS = (1, 56, 81, 96)

HEADCOUNT = "log_headcount"
COMPANY_AGE = "company_age_years"
SECTOR = "sector_division"
PERMITS = "permits_36m_per_headcount"
REQUIRED = (HEADCOUNT, COMPANY_AGE, PERMITS)


def crude_rule_points(frame: pl.DataFrame) -> pl.Series:
    """Checklist points per row (0 to 4; the sector point only where the sector feature is
    present, since it can be switched off).

    Raises:
        ValueError: naming a feature the rule needs that the frame lacks.
    """
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise ValueError(f"the crude rule needs feature(s) {missing}")
    checks = [
        pl.col(HEADCOUNT) <= math.log1p(SMALL_HEADCOUNT),
        pl.col(COMPANY_AGE) < YOUNG_YEARS,
        pl.col(PERMITS) >= MANY_PERMITS_PER_HEADCOUNT,
    ]
    if SECTOR in frame.columns:
        checks.append(pl.col(SECTOR).is_in([float(d) for d in RISKY_DIVISIONS]))
    return frame.select(pl.sum_horizontal(c.fill_null(False).cast(pl.Int32) for c in checks)
                        .alias("points")).to_series()


def crude_rule_score(frame: pl.DataFrame) -> np.ndarray:
    """Points plus a tie-break in [0, 1) from permits per employee (higher first)."""
    points = crude_rule_points(frame).to_numpy().astype(float)
    permits = frame.get_column(PERMITS).cast(pl.Float64).fill_null(0.0).to_numpy()
    tie_break = permits / (1.0 + permits)
    return points + np.clip(tie_break, 0.0, 0.999)
