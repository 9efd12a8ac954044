"""Plans name themselves and each pick as the contract's inspections will (version 2):
``plan_id``, ``selection`` and ``inclusion_probability``."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from sponsorwatch.contract import TABLES
from training.planning.design import (
    RANDOM,
    RISK_BASED,
    build_inspection_plan,
    default_plan_id,
    planned_inspections,
    write_plan,
)


def _scores(n: int, as_of: date | None = None) -> pl.DataFrame:
    rng = np.random.default_rng(0)
    frame = (pl.DataFrame({"sponsor_id": [f"{i:08d}" for i in range(n)],
                           "score": rng.random(n)})
             .sort("score", descending=True).with_row_index("rank", offset=1)
             .with_columns(pl.col("rank").cast(pl.Int64)))
    return frame if as_of is None else frame.with_columns(as_of=pl.lit(as_of))


def test_the_default_id_names_the_day_and_the_seed() -> None:
    assert default_plan_id(date(2024, 1, 1), 7) == "PLAN-2024-01-01-7"
    assert default_plan_id(None, 7) == "PLAN-7"
    plan, design = build_inspection_plan(_scores(60, date(2024, 1, 1)), 10, 0.3, seed=7)
    assert plan["plan_id"].unique().to_list() == ["PLAN-2024-01-01-7"]
    assert design.plan_id == "PLAN-2024-01-01-7"
    plan, _ = build_inspection_plan(_scores(60), 10, 0.3, seed=7)
    assert plan["plan_id"].unique().to_list() == ["PLAN-7"]


def test_a_given_id_is_carried_by_every_pick_and_an_empty_one_refused() -> None:
    plan, design = build_inspection_plan(_scores(60), 10, 0.3, seed=1, plan_id="PLAN-Q3")
    assert plan["plan_id"].to_list() == ["PLAN-Q3"] * 10 and design.plan_id == "PLAN-Q3"
    with pytest.raises(ValueError, match="plan id is empty"):
        build_inspection_plan(_scores(60), 10, 0.3, seed=1, plan_id=" ")


def test_selection_and_probability_are_the_contract_columns() -> None:
    plan, design = build_inspection_plan(_scores(100), 10, 0.2, seed=1, plan_id="P")
    assert plan.columns[:5] == ["plan_position", "plan_id", "sponsor_id", "selection",
                                "inclusion_probability"]
    assert plan["selection"].to_list() == plan["selection_reason"].to_list()
    assert plan["selection"].to_list() == [RISK_BASED] * 8 + [RANDOM] * 2
    picks = planned_inspections(plan)
    contract = TABLES["inspections"]
    assert picks.columns == ["sponsor_id", "plan_id", "selection", "inclusion_probability"]
    for column in picks.columns:
        assert picks.schema[column] == contract.column(column).dtype
    random = picks.filter(pl.col("selection") == RANDOM)
    assert random["inclusion_probability"].to_list() == pytest.approx(
        [design.random_probability] * 2)
    assert picks.filter(pl.col("selection") == RISK_BASED)["inclusion_probability"].to_list() \
        == [1.0] * 8
    assert set(picks["selection"]) <= set(contract.column("selection").enum)


def test_planned_inspections_names_what_an_old_plan_lacks() -> None:
    plan, _ = build_inspection_plan(_scores(30), 5, 0.2, seed=1)
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['plan_id', 'selection'\]"):
        planned_inspections(plan.drop("plan_id", "selection"))


def test_the_written_design_names_the_plan(tmp_path: Path) -> None:
    plan, design = build_inspection_plan(_scores(40), 8, 0.25, seed=3, plan_id="PLAN-X")
    path = write_plan(plan, design, tmp_path, date(2025, 1, 1), tmp_path / "plan.csv")
    stored = json.loads((path.parent / "design.json").read_text())
    assert stored["plan_id"] == "PLAN-X"
    exported = pl.read_csv(tmp_path / "plan.csv")
    assert {"plan_id", "selection", "inclusion_probability"} <= set(exported.columns)
    assert pl.read_parquet(path)["plan_id"].to_list() == ["PLAN-X"] * 8
