"""Estimates with 95 % intervals (issue 15 item 2): the design-based population rate covers
a known rate in a seeded simulation of a stratified design and differs from the unweighted
rate when selection is unequal; RANDOM-slice metrics carry their method and rows, or say
why they are not measurable; the bootstrap is reproducible; the model card carries them."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest

from training.fitting.intervals import (
    BOOTSTRAP,
    CLOPPER_PEARSON,
    HORVITZ_THOMPSON,
    MIN_EVIDENCE,
    SIMPLE_RANDOM,
    calibration_evidence,
    design_weighted_rate,
    evidence_range,
    flat_metrics,
    holdout_estimates,
)

AS_OF = date(2024, 1, 1)
#: A population of sponsors: a risky tenth with a high rate, the rest with a low one.
RISKY, REST = 400, 3600
RATE_RISKY, RATE_REST = 0.45, 0.06
TRUE_RATE = (RISKY * RATE_RISKY + REST * RATE_REST) / (RISKY + REST)


def _population(rng: np.random.Generator) -> pl.DataFrame:
    risky = np.arange(RISKY + REST) < RISKY
    violates = rng.random(risky.size) < np.where(risky, RATE_RISKY, RATE_REST)
    score = np.clip(np.where(risky, 0.45, 0.06) + rng.normal(0, 0.05, risky.size), 0.001, 0.99)
    return pl.DataFrame({"sponsor_id": [f"{i:08d}" for i in range(risky.size)],
                         "as_of": [AS_OF] * risky.size, "risky": risky,
                         "violates": violates, "score_xgboost": score})


def _plan(population: pl.DataFrame, rng: np.random.Generator, risky_drawn: int = 200,
          rest_drawn: int = 150, response: float = 0.9) -> pl.DataFrame:
    """A stratified draw without replacement (half the risky sponsors by risk, a random
    slice of the rest), with some inspections inconclusive; every row of the population,
    ``label`` and ``inclusion_probability`` null where not drawn."""
    risky = population["risky"].to_numpy()
    drawn = np.zeros(risky.size, dtype=bool)
    drawn[rng.choice(np.flatnonzero(risky), risky_drawn, replace=False)] = True
    drawn[rng.choice(np.flatnonzero(~risky), rest_drawn, replace=False)] = True
    answered = drawn & (rng.random(risky.size) < response)
    probability = np.where(risky, risky_drawn / risky.sum(), rest_drawn / (~risky).sum())
    return population.with_columns(
        label=pl.when(pl.Series(answered)).then(pl.col("violates").cast(pl.Int8)),
        selection=pl.when(pl.Series(drawn)).then(
            pl.when(pl.col("risky")).then(pl.lit("RISK_BASED")).otherwise(pl.lit("RANDOM"))),
        inclusion_probability=pl.when(pl.Series(drawn)).then(pl.Series(probability)))


def test_design_based_interval_covers_the_population_rate() -> None:
    """Over 400 draws of the design, the 95 % interval holds the population's own rate
    (each draw's population is drawn anew) in at least 92 % of them."""
    rng = np.random.default_rng(20261207)
    covered = 0
    draws = 400
    for _ in range(draws):
        population = _population(rng)
        truth = population["violates"].mean()
        estimate = design_weighted_rate(_plan(population, rng))
        covered += estimate["lo"] <= truth <= estimate["hi"]
    assert covered / draws >= 0.92, covered / draws
    assert estimate["method"] == HORVITZ_THOMPSON and estimate["strata"] == 2


def test_weighting_corrects_unequal_selection() -> None:
    """With risky sponsors drawn 15 times as often, the unweighted rate of the inspected
    is far from the truth; the Horvitz-Thompson estimate is not."""
    rng = np.random.default_rng(7)
    population = _population(rng)
    plan = _plan(population, rng)
    estimate = design_weighted_rate(plan)
    labelled = plan.filter(pl.col("label").is_not_null())
    unweighted = labelled["label"].mean()
    assert estimate["unweighted"] == pytest.approx(unweighted)
    assert abs(unweighted - estimate["estimate"]) > 0.1
    assert abs(estimate["estimate"] - TRUE_RATE) < 0.03
    assert estimate["rows"] == labelled.height
    assert estimate["selections"] == dict(
        labelled["selection"].value_counts().iter_rows())
    # Equal probabilities: the weighted estimate is the unweighted rate.
    equal = plan.with_columns(pl.when(pl.col("inclusion_probability").is_not_null())
                              .then(0.1).alias("inclusion_probability"), selection=pl.lit("R"))
    assert design_weighted_rate(equal)["estimate"] == pytest.approx(unweighted)


def _holdout(rng: np.random.Generator, random_rows: int, design: bool) -> pl.DataFrame:
    plan = _plan(_population(rng), rng, rest_drawn=random_rows)
    frame = plan.select("sponsor_id", "as_of", "label", "selection",
                        pl.col("violates").cast(pl.Float64).alias("truth"), "score_xgboost",
                        *(["inclusion_probability"] if design else []))
    return frame


def test_holdout_estimates_name_method_rows_and_what_cannot_be_measured() -> None:
    rng = np.random.default_rng(3)
    predictions = _holdout(rng, 150, design=False)  # as before contract v2: no design column
    estimates = holdout_estimates(predictions, (50, 100, 500), seed=42, resamples=300)
    metrics = estimates["metrics"]
    random = predictions.filter(pl.col("label").is_not_null()
                                & (pl.col("selection") == "RANDOM"))
    assert estimates["rows"]["random_labelled"] == random.height
    assert metrics["precision_at_50"]["method"] == CLOPPER_PEARSON
    assert metrics["precision_at_50"]["rows"] == 50
    assert metrics["base_rate"]["rows"] == random.height
    assert metrics["average_precision"]["method"] == BOOTSTRAP
    assert metrics["average_precision"]["sponsors"] == random["sponsor_id"].n_unique()
    for name in ("precision_at_500", "recall_at_500", "lift_at_500"):  # k above the slice
        assert metrics[name] == {"measurable": False, "rows": random.height,
                                 "reason": metrics[name]["reason"],
                                 "reason_code": "fewer_than_k", "reason_values": {"k": 500}}
    for entry in metrics.values():
        if entry["measurable"]:
            assert entry["lo"] <= entry["estimate"] <= entry["hi"], entry
    population = estimates["population_violation_rate"]
    assert population["method"] == SIMPLE_RANDOM
    assert population["estimate"] == metrics["base_rate"]["estimate"]
    flat = flat_metrics(estimates)
    assert flat["interval.xgboost.random.base_rate.lo"] == metrics["base_rate"]["lo"]
    assert not any("precision_at_500" in key for key in flat)

    # With the design's probabilities the population rate is design-based.
    designed = holdout_estimates(_holdout(np.random.default_rng(3), 150, design=True),
                                 (50,), seed=42, resamples=200)
    assert designed["population_violation_rate"]["method"] == HORVITZ_THOMPSON


def test_too_few_random_labels_are_never_a_number() -> None:
    predictions = _holdout(np.random.default_rng(4), 12, design=False)
    estimates = holdout_estimates(predictions, (50,), seed=1, resamples=100)
    assert all(not e["measurable"] and "estimate" not in e and e["reason"]
               for e in estimates["metrics"].values())
    assert not estimates["population_violation_rate"]["measurable"]
    assert flat_metrics(estimates) == {}


def test_bootstrap_is_seeded() -> None:
    predictions = _holdout(np.random.default_rng(5), 200, design=False)
    first = holdout_estimates(predictions, (50,), seed=11, resamples=200)
    assert holdout_estimates(predictions, (50,), seed=11, resamples=200) == first
    other = holdout_estimates(predictions, (50,), seed=12, resamples=200)
    assert other["metrics"]["average_precision"]["lo"] != first["metrics"][
        "average_precision"]["lo"]


def test_calibration_evidence_falls_back_and_marks_thin_ranges() -> None:
    rng = np.random.default_rng(6)
    predictions = _holdout(rng, 300, design=False)
    evidence = calibration_evidence(predictions)
    low = evidence_range(evidence, 0.06)   # many RANDOM inspections of the rest
    high = evidence_range(evidence, 0.45)  # risky sponsors: inspected by risk only
    top = evidence_range(evidence, 0.95)   # nobody scores there
    assert low["basis"] == "random" and low["inspected"] == low["random_inspected"] >= 30
    assert low["observed_lo"] <= low["observed"] <= low["observed_hi"]
    assert high["basis"] == "labelled" and high["random_inspected"] < MIN_EVIDENCE
    assert high["inspected"] == high["labelled_inspected"]
    assert top["basis"] == "thin" and "observed" not in top
    assert sum(r["labelled_inspected"] for r in evidence["ranges"]) == predictions[
        "label"].count()
    assert evidence_range(None, 0.5) is None


def test_model_card_carries_the_intervals() -> None:
    from training.governance.card_markdown import card_markdown
    from training.governance.model_card import build_model_card

    estimates = holdout_estimates(_holdout(np.random.default_rng(8), 200, design=True),
                                  (50, 100), seed=42, resamples=200)
    card = build_model_card(
        name="sponsor-risk", version="3", run_id="abc", feature_names=["wage_gap"],
        descriptions={}, directions={}, training_window={},
        data={"rows": 10, "holdout_estimates": estimates}, metrics={}, fairness=None,
        capacity=100, horizon_months=12, fairness_min_ratio=0.8)
    assert card["metrics"]["estimates"]["metrics"]["precision_at_100"] == estimates[
        "metrics"]["precision_at_100"]
    assert "holdout_estimates" not in card["data"]
    register = card["algorithm_register"]["performance_standard"]
    assert register["population_violation_rate"]["method"] == HORVITZ_THOMPSON
    text = card_markdown(card)
    rate = estimates["population_violation_rate"]
    assert f"| population violation rate | {rate['estimate']:.3f} | {rate['lo']:.3f} – " in text
    assert "### Calibration evidence" in text and HORVITZ_THOMPSON in text
    precision = estimates["metrics"]["precision_at_100"]
    assert (f"| precision at 100 | {precision['estimate']:.3f} | {precision['lo']:.3f} – "
            f"{precision['hi']:.3f} | {CLOPPER_PEARSON} | 100 |") in text
