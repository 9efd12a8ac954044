"""The crude rule of the past, kept as a baseline: risk-based selection by a checklist.

A sponsor scores one point for each of: small (10 or fewer employees), young (founded under
3 years ago), a restaurant or hair salon, and many permits (3 or more applications in the
last 12 months). Within a number of points, more permits per employee ranks first. It
learns nothing, so it is the same on every fold.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

SMALL_HEADCOUNT = 10
YOUNG_YEARS = 3.0
MANY_PERMITS_12M = 3
#: SBI divisions: 56 food and beverage service, 96 personal services (hairdressers, beauty).
RISKY_DIVISIONS = (56, 96)

HEADCOUNT = "log_headcount"
COMPANY_AGE = "company_age_years"
SECTOR = "sector_division"
PERMITS = "permits_12m_per_headcount"
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
        # applications = per-employee rate x employees (log_headcount is log(1 + employees))
        (pl.col(PERMITS) * pl.col(HEADCOUNT).exp().sub(1)).round(6) >= MANY_PERMITS_12M,
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
