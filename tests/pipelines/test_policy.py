"""The closed-loop policy simulation on a small world: the loop replaces the world's planned
inspections with its own, which carry their plan and probability through ingest, feed the
history features and the retraining, and give the same figures for the same seed."""

from __future__ import annotations

import json
from datetime import date

import polars as pl
import pytest

from pipelines.policy import LoopConfig, SeedRun, run_seed
from pipelines.policy.world import PLANNED, features_with_history

SEED = 3
CONFIG = LoopConfig(sponsors=1200, seeds=(SEED,), years=3, random_shares=(0.0, 0.2),
                    crude_random_share=0.2, workers=1)


@pytest.fixture(scope="module")
def seed_run() -> SeedRun:
    return run_seed(CONFIG, SEED, keep_tables=True)


def _run(seed_run: SeedRun, name: str):  # noqa: ANN202 - a PolicyRun
    return next(r for r in seed_run.runs if r.policy == name)


def _policy_rows(inspections: pl.DataFrame) -> pl.DataFrame:
    return inspections.filter(pl.col("plan_id").is_not_null()
                              & (pl.col("opened_on") >= CONFIG.loop_start))


def test_every_policy_runs_every_year(seed_run: SeedRun) -> None:
    assert [r.policy for r in seed_run.runs] == ["model-r00", "model-r20", "crude_rule-r20"]
    for run in seed_run.runs:
        assert [row["year"] for row in run.years] == [2021, 2022, 2023]
        for row in run.years:
            assert row["capacity"] == CONFIG.capacity_for(row["active"])
            assert 0 <= row["abuse_found"] <= row["violations"] <= row["capacity"]
            assert 0.0 <= row["p_at_100_truth"] <= 1.0


def test_the_worlds_planned_inspections_are_replaced(seed_run: SeedRun) -> None:
    world = seed_run.world
    assert world is not None and world.replaced_inspections > 0
    for run in seed_run.runs:
        assert run.inspections is not None
        late_planned = run.inspections.filter(pl.col("selection").is_in(PLANNED)
                                              & (pl.col("opened_on") >= CONFIG.loop_start))
        # every planned inspection from the loop's start is the policy's own
        assert late_planned["inspection_id"].str.starts_with("P20").all()
        assert late_planned["inspection_id"].n_unique() == sum(
            row["capacity"] for row in run.years)
        kept = run.inspections.filter(~pl.col("inspection_id").str.starts_with("P20"))
        assert kept.sort("inspection_id", "recorded_on").equals(
            world.inspections.sort("inspection_id", "recorded_on"))
    # the world's TIP inspections of the loop's years stay
    assert world.inspections.filter((pl.col("selection") == "TIP")
                                    & (pl.col("opened_on") >= CONFIG.loop_start)).height > 0
    assert world.inspections.filter(pl.col("selection").is_in(PLANNED)
                                    & (pl.col("opened_on") >= CONFIG.loop_start)).is_empty()


def test_random_picks_carry_their_probability_into_the_ingested_inspections(
        seed_run: SeedRun) -> None:
    run = _run(seed_run, "model-r20")
    ingested = _policy_rows(run.inspections)
    for plan in run.plans:
        day = plan["plan_id"][0].removeprefix("PLAN-")[:10]
        assert plan["plan_id"][0] == f"PLAN-{day}-{SEED * 10_000 + int(day[:4])}"
        rows = ingested.filter(pl.col("plan_id") == plan["plan_id"][0])
        joined = rows.join(plan.select("sponsor_id", "selection", "inclusion_probability"),
                           on="sponsor_id", suffix="_plan")
        assert joined.height == rows.height > 0
        assert (joined["selection"] == joined["selection_plan"]).all()
        assert (joined["inclusion_probability"] == joined["inclusion_probability_plan"]).all()
        random = rows.filter(pl.col("selection") == "RANDOM")
        assert random.height > 0
        assert random["inclusion_probability"].max() < 0.1
        assert (rows.filter(pl.col("selection") == "RISK_BASED")["inclusion_probability"]
                == 1.0).all()
    # every version was recorded, and passed ingest's checks: nothing held or quarantined
    assert ingested["recorded_on"].null_count() == 0
    assert all(d["quarantined"] == 0 and d["held"] == 0 and d["clean"] == d["delivered"]
               for d in run.deliveries)
    # versions arrive in the delivery after they are recorded: OPEN ones, closings, appeals
    assert set(ingested["outcome"]) >= {"OPEN", "NO_VIOLATION"}


def test_the_ht_interval_needs_a_random_slice(seed_run: SeedRun) -> None:
    for row in _run(seed_run, "model-r20").years:
        assert row["random_picks"] > 0
        assert row["ht_lo"] <= row["ht_estimate"] <= row["ht_hi"]
        assert row["ht_covers_abuse_rate"] in (True, False)
    for row in _run(seed_run, "model-r00").years:
        assert row["random_picks"] == 0 and row["ht_estimate"] is None
        assert row["ht_covers_abuse_rate"] is None


def test_the_loop_records_the_inspection_quality_study(seed_run: SeedRun) -> None:
    """Sensitivity and false-finding rate of the world's RANDOM inspections before the loop,
    with exact intervals and sample sizes, measured against the truth on their opening day
    (recomputed here from the tables, not from the simulator's constants)."""
    from pipelines.policy.quality import running_on
    from sponsorwatch.history import current
    from training.planning.estimates import clopper_pearson_interval

    quality, world = seed_run.quality, seed_run.world
    assert quality["selections"] == ["RANDOM"] and quality["before"] == "2021-01-01"
    sample = (current("inspections", world.inspections)
              .filter((pl.col("selection") == "RANDOM")
                      & (pl.col("opened_on") < CONFIG.loop_start)
                      & pl.col("outcome").is_in(["VIOLATION", "NO_VIOLATION"]))
              .join(world.truth, on="sponsor_id", how="left")
              .with_columns(abusive=running_on(pl.col("opened_on")).fill_null(False)))
    abusive = sample.filter(pl.col("abusive"))
    clean = sample.filter(~pl.col("abusive"))
    hits = abusive.filter(pl.col("outcome") == "VIOLATION").height
    false = clean.filter(pl.col("outcome") == "VIOLATION").height
    assert (quality["abusive_inspected"], quality["abusive_violations"]) == (abusive.height,
                                                                            hits)
    assert (quality["clean_inspected"], quality["clean_violations"]) == (clean.height, false)
    assert abusive.height > 0 and clean.height > 10
    assert quality["sensitivity"] == pytest.approx(hits / abusive.height)
    assert quality["false_finding_rate"] == pytest.approx(false / clean.height)
    assert (quality["sensitivity_lo"], quality["sensitivity_hi"]) == pytest.approx(
        clopper_pearson_interval(hits, abusive.height))
    assert (quality["false_finding_lo"], quality["false_finding_hi"]) == pytest.approx(
        clopper_pearson_interval(false, clean.height))
    assert quality["inspections"] == quality["unknown_outcome"] + sample.height
    # every year's corrected estimate uses it, against the abuse on the opening day
    for row in _run(seed_run, "model-r20").years:
        assert 0.0 <= row["true_abuse_rate_at_open"] <= 1.0
        if row["abuse_rate_estimate"] is not None:
            assert row["abuse_rate_lo"] <= row["abuse_rate_estimate"] <= row["abuse_rate_hi"]
            assert row["abuse_rate_lo"] <= row["abuse_rate_lo_plugin"]
            assert row["abuse_rate_covers"] == (row["abuse_rate_lo"]
                                                <= row["true_abuse_rate_at_open"]
                                                <= row["abuse_rate_hi"])
    for row in _run(seed_run, "model-r00").years:
        assert row["abuse_rate_estimate"] is None and row["abuse_rate_covers"] is None


def test_the_truth_at_open_is_the_day_the_inspection_opens(seed_run: SeedRun) -> None:
    """The would-be opening day of every scored sponsor is the day its inspection opened
    where the plan picked it (the same common draw)."""
    from pipelines.policy.inspect import opening_days

    world, run = seed_run.world, _run(seed_run, "model-r20")
    opened = _policy_rows(run.inspections).filter(pl.col("opened_on").dt.year() == 2022) \
        .group_by("inspection_id", "sponsor_id").agg(pl.col("opened_on").first())
    again = opening_days(opened.select("sponsor_id"), 2022, SEED, world.ends, CONFIG.world_end)
    assert opened.height > 0
    assert opened.join(again, on="sponsor_id", suffix="_again").select(
        (pl.col("opened_on") == pl.col("opened_on_again")).all()).item()


def test_the_model_retrains_on_its_own_inspections_and_the_rule_does_not(
        seed_run: SeedRun) -> None:
    model = _run(seed_run, "model-r20")
    assert [t["year"] for t in model.trainings] == [2021, 2022, 2023]
    assert model.trainings[0]["promoted"]  # the first champion
    for training in model.trainings[1:]:
        assert training["error"] is None
        assert "champion_precision_at_k" in training
        assert training["promoted"] == (training["challenger_precision_at_k"]
                                        > training["champion_precision_at_k"])
    assert _run(seed_run, "crude_rule-r20").trainings == []


def test_history_features_see_the_policys_inspections(seed_run: SeedRun) -> None:
    world, run = seed_run.world, _run(seed_run, "model-r20")
    assert world is not None and run.inspections is not None
    day = date(2023, 1, 1)
    closed = (_policy_rows(run.inspections)
              .filter(pl.col("closed_on") <= date(2022, 6, 30))["sponsor_id"].unique())
    mine = features_with_history(world, run.inspections, day, CONFIG.loop_start)
    worlds = features_with_history(world, world.inspections, day, CONFIG.loop_start)
    on_day = pl.col("as_of") == day
    seen = mine.filter(on_day & pl.col("sponsor_id").is_in(closed.implode()))
    assert seen.height > 0 and (seen["past_inspections"] >= 1).all()
    assert not mine.filter(on_day)["past_inspections"].equals(
        worlds.filter(on_day)["past_inspections"])
    # the days before the loop are the world's own
    before = pl.col("as_of") < CONFIG.loop_start
    assert mine.filter(before).equals(worlds.filter(before))


def test_the_same_seed_gives_the_same_figures(seed_run: SeedRun) -> None:
    """A policy's figures depend on its seed and its own history only: run alone over two
    years, it repeats the first two years of the full run."""
    again = run_seed(LoopConfig(sponsors=1200, seeds=(SEED,), years=2, random_shares=(0.2,),
                                crude_random_share=None, workers=1,
                                policies_only=("model-r20",)), SEED)
    first = _run(seed_run, "model-r20")

    def strip(rows: list[dict]) -> str:  # as text, where NaN equals NaN
        return json.dumps([{k: v for k, v in row.items() if k != "seconds"} for row in rows],
                          sort_keys=True)

    assert strip(again.runs[0].years) == strip(first.years[:2])
    assert strip(again.runs[0].trainings) == strip(first.trainings[:2])
