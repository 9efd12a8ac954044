"""The crude rule of the past: one point per checklist item, permits per employee breaking
ties, the sector point only where the sector feature exists."""

from __future__ import annotations

import math

import polars as pl
import pytest

from training.fitting.crude_rule import crude_rule_points, crude_rule_score


def _rows(**columns: list[float]) -> pl.DataFrame:
    return pl.DataFrame(columns, schema={k: pl.Float64 for k in columns})


def test_one_point_per_item() -> None:
    rows = _rows(log_headcount=[math.log1p(5), math.log1p(50), math.log1p(10)],
                 company_age_years=[1.0, 10.0, 2.9],
                 permits_12m_per_headcount=[0.6, 0.01, 0.3],  # 3, 0.5 and 3 applications
                 sector_division=[56.0, 62.0, 96.0])
    assert crude_rule_points(rows).to_list() == [4, 0, 4]


def test_ties_break_on_permits_and_sector_is_optional() -> None:
    rows = _rows(log_headcount=[math.log1p(50)] * 2, company_age_years=[10.0] * 2,
                 permits_12m_per_headcount=[0.02, 0.05])
    scores = crude_rule_score(rows)
    assert scores[1] > scores[0] and scores.max() < 1
    with pytest.raises(ValueError, match="log_headcount"):
        crude_rule_points(rows.drop("log_headcount"))
