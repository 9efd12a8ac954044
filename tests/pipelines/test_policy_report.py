"""The policy simulation's report: the acceptance checks fail where they cannot measure,
and the results reach the JSON file, the chart and MLflow."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from pipelines.policy import LoopConfig, PolicyRun, SeedRun
from pipelines.policy.report import acceptance, summarise, write_results
from sponsorwatch.settings import Settings

CONFIG = LoopConfig(sponsors=100, seeds=(1, 2), years=2, random_shares=(0.0, 0.1),
                    crude_random_share=0.1, workers=1)


def _row(year: int, found: int, p100: float, covered: bool | None) -> dict:
    lo = None if covered is None else 0.01
    return {"year": year, "abuse_found": found, "abuse_detected": found, "violations": found,
            "plan_precision_truth": 0.3, "risk_precision_truth": 0.3, "p_at_100_truth": p100,
            "true_abuse_rate": 0.05, "ht_estimate": None if lo is None else 0.06, "ht_lo": lo,
            "ht_hi": None if lo is None else 0.2, "ht_covers_abuse_rate": covered,
            "ht_covers_violation_rate": covered, "true_abuse_rate_at_open": 0.05,
            "true_violation_rate": 0.1,
            "abuse_rate_estimate": None if lo is None else 0.05,
            "abuse_rate_lo": lo, "abuse_rate_hi": None if lo is None else 0.1,
            "abuse_rate_covers": covered, "abuse_rate_plugin_covers": covered,
            "abuse_rate_covers_scoring_day": covered, "fpr_ratio_plan": 0.5,
            "fpr_ratio_top_k": 0.4, "active": 90, "capacity": 10}


def _seeds(tool_found: int, crude_found: int, p100_last: float) -> list[SeedRun]:
    seeds = []
    for seed in CONFIG.seeds:
        runs = []
        for policy in CONFIG.policies():
            found = tool_found if policy.ranking == "model" else crude_found
            covered = None if policy.random_share == 0 else seed == 1
            run = PolicyRun(policy.name, policy.ranking, policy.random_share, seed,
                            years=[_row(2021, found, 0.5, covered),
                                   _row(2022, found, p100_last, None if covered is None else True)])
            if policy.retrains:
                run.trainings = [{"year": 2022, "promoted": True, "error": None}]
            runs.append(run)
        seeds.append(SeedRun(seed, runs, {"total": 1.0, "world": 0.1, "features": 0.1,
                                          "first_champion": 0.1}))
    return seeds


def _checks(seeds: list[SeedRun], config: LoopConfig = CONFIG) -> dict[str, dict]:
    return {c["check"]: c for c in summarise(config, seeds)["checks"]}


def test_the_three_checks_from_the_results() -> None:
    checks = _checks(_seeds(tool_found=10, crude_found=4, p100_last=0.46))
    # covered in 3 of 4 seed-years (seed 2's first year missed): below 90 %
    assert not checks["abuse_rate_interval_covers_true_abuse_rate"]["passed"]
    assert checks["abuse_rate_interval_covers_true_abuse_rate"]["values"] == {
        "model-r10": 0.75, "crude_rule-r10": 0.75}
    assert checks["tool_finds_twice_the_crude_rule"]["passed"]
    assert checks["tool_finds_twice_the_crude_rule"]["values"]["ratio"] == 2.5
    assert checks["p_at_100_holds"]["passed"]
    checks = _checks(_seeds(tool_found=7, crude_found=4, p100_last=0.44))
    assert not checks["tool_finds_twice_the_crude_rule"]["passed"]
    assert not checks["p_at_100_holds"]["passed"]


def test_a_check_that_cannot_measure_fails() -> None:
    one_year = LoopConfig(sponsors=100, seeds=(1,), years=1, random_shares=(0.0,),
                          crude_random_share=None, workers=1)
    policies = summarise(one_year, [SeedRun(1, [PolicyRun(
        "model-r00", "model", 0.0, 1, years=[_row(2021, 3, 0.5, None)])], {})])["policies"]
    checks = {c["check"]: c for c in acceptance(one_year, policies)}
    assert all(not c["passed"] and "not measurable" in c["note"] for c in checks.values())


def test_results_reach_the_file_the_chart_and_mlflow(tmp_path: Path) -> None:
    pytest.importorskip("mlflow")
    settings = Settings(home=tmp_path / "home")
    payload = write_results(CONFIG, _seeds(10, 4, 0.5), tmp_path / "out", settings,
                            {"command": "test"}, experiment="policy-test")
    stored = json.loads((tmp_path / "out" / "policy.json").read_text())
    assert stored["command"] == "test" and len(stored["checks"]) == 3
    assert stored["mlflow_run_id"] == payload["mlflow_run_id"]
    assert (tmp_path / "out" / "policy.png").stat().st_size > 10_000
    from training.registry.tracking import client

    mlflow = client(settings)
    experiment = mlflow.get_experiment_by_name("policy-test")
    runs = mlflow.search_runs([experiment.experiment_id])
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId")
                == payload["mlflow_run_id"]]
    assert len(children) == len(CONFIG.seeds) * len(CONFIG.policies())
    history = mlflow.get_metric_history(children[0].info.run_id, "p_at_100_truth")
    assert sorted(m.step for m in history) == [2021, 2022]
    assert pl.DataFrame([{"step": m.step, "value": m.value} for m in history]).height == 2


def test_the_coverage_check_uses_the_corrected_abuse_rate() -> None:
    """The raw violation-rate interval missing the abuse rate does not fail the check where
    the corrected interval covers it; the raw figures are still reported beside it."""
    seeds = _seeds(tool_found=10, crude_found=4, p100_last=0.5)
    for seed in seeds:
        for run in seed.runs:
            for row in run.years:
                if row["ht_lo"] is not None:
                    row["ht_covers_abuse_rate"] = False
                    row["abuse_rate_covers"] = True
    check = _checks(seeds)["abuse_rate_interval_covers_true_abuse_rate"]
    assert check["passed"] and check["values"] == {"model-r10": 1.0, "crude_rule-r10": 1.0}
    assert check["raw"]["model-r10"]["ht_covers_true_abuse_rate"] == 0.0
