"""Inspection plans with a random slice and their inverse-propensity evaluation."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest

from training.planning.coverage import (
    simulate_inspection_outcomes,
    true_rates,
    violation_probability,
)
from training.planning.design import RANDOM, RISK_BASED, build_inspection_plan
from training.planning.estimates import attach_outcomes, clopper_pearson_interval, evaluate_plan


def _scores(n: int, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return (pl.DataFrame({"sponsor_id": [f"{i:08d}" for i in range(n)],
                          "score": rng.random(n)})
            .sort("score", descending=True).with_row_index("rank", offset=1)
            .with_columns(pl.col("rank").cast(pl.Int64)))


def test_plan_takes_the_top_and_a_random_slice_with_their_probabilities() -> None:
    scores = _scores(100)
    plan, design = build_inspection_plan(scores, capacity=10, random_share=0.2, seed=1)
    assert (design.risk_based, design.random, design.population) == (8, 2, 100)
    top = plan.filter(pl.col("selection_reason") == RISK_BASED)
    assert top["rank"].to_list() == list(range(1, 9))
    assert top["inclusion_probability"].to_list() == [1.0] * 8
    randoms = plan.filter(pl.col("selection_reason") == RANDOM)
    assert randoms.height == 2 and randoms["rank"].min() > 8
    assert randoms["inclusion_probability"].to_list() == pytest.approx([2 / 92] * 2)
    assert randoms["design_weight"].to_list() == pytest.approx([46.0, 46.0])
    assert plan["plan_position"].to_list() == list(range(1, 11))
    assert plan["sponsor_id"].n_unique() == 10


def test_plan_is_reproducible_by_seed_and_random_picks_are_uniform() -> None:
    scores = _scores(50)
    first, _ = build_inspection_plan(scores, 10, 0.5, seed=3)
    again, _ = build_inspection_plan(scores, 10, 0.5, seed=3)
    assert first.equals(again)
    counts = np.zeros(51)
    for seed in range(600):
        plan, _ = build_inspection_plan(scores, 10, 0.5, seed=seed)
        for rank in plan.filter(pl.col("selection_reason") == RANDOM)["rank"]:
            counts[rank] += 1
    # Each of the 45 sponsors outside the top 5 has probability 5/45 per plan.
    drawn = counts[6:]
    assert drawn.sum() == 600 * 5
    assert drawn.min() > 600 * 5 / 45 * 0.6 and drawn.max() < 600 * 5 / 45 * 1.4


def test_plan_edges() -> None:
    scores = _scores(5)
    everything, design = build_inspection_plan(scores, capacity=50, random_share=0.0, seed=0)
    assert everything.height == 5 and design.random_probability == 0.0
    with pytest.raises(ValueError, match="random share"):
        build_inspection_plan(scores, 3, 1.5)
    with pytest.raises(ValueError, match="capacity"):
        build_inspection_plan(scores, 0)
    with pytest.raises(ValueError, match="empty"):
        build_inspection_plan(scores.clear(), 3)


def _hand_plan() -> pl.DataFrame:
    """A plan over 24 sponsors: 4 risk-based picks (ranks 1-4) and 2 random picks from the
    20 others (probability 1/10 each), with outcomes by hand."""
    return pl.DataFrame({
        "sponsor_id": ["a", "b", "c", "d", "x", "y"],
        "rank": [1, 2, 3, 4, 5, 17],
        "selection_reason": [RISK_BASED] * 4 + [RANDOM] * 2,
        "inclusion_probability": [1.0] * 4 + [0.1] * 2,
        "design_weight": [1.0] * 4 + [10.0] * 2,
        "stratum_size": [4] * 4 + [20] * 2,
        "population": [24] * 6,
        "outcome": [1, 1, 0, None, 1, 0],
    }, schema_overrides={"outcome": pl.Int8})


def test_evaluation_matches_hand_computation() -> None:
    result = evaluate_plan(_hand_plan(), top_k=5)
    # Risk-based census: 2 violations of 3 known (d unknown) -> 2/3.
    precision = result["precision_risk_based"]
    assert precision["estimate"] == pytest.approx(2 / 3)
    assert (precision["lo"], precision["hi"]) == pytest.approx(clopper_pearson_interval(2, 3))
    assert (precision["inspected"], precision["known"], precision["violations"]) == (4, 3, 2)
    # Random slice: 1 of 2 -> 1/2 of the 20 others.
    assert result["prevalence_rest"]["estimate"] == pytest.approx(0.5)
    # All sponsors: (4 * 2/3 + 20 * 1/2) / 24.
    assert result["prevalence_all"]["estimate"] == pytest.approx((4 * 2 / 3 + 10) / 24)
    lo_top, hi_top = clopper_pearson_interval(2, 3)
    lo_rest, hi_rest = clopper_pearson_interval(1, 2)
    assert result["prevalence_all"]["lo"] == pytest.approx((4 * lo_top + 20 * lo_rest) / 24)
    assert result["prevalence_all"]["hi"] == pytest.approx((4 * hi_top + 20 * hi_rest) / 24)
    # Top 5: ranks 1-4 by census (2/3 of 4); rank 5 through the slice: 1 of the 2 random
    # picks is a violation within the top 5, so 1/2 x 20 = 10 expected in 1 rank: capped at 1.
    assert result["precision_top_k"]["estimate"] == pytest.approx((4 * 2 / 3 + 1) / 5)
    # Horvitz-Thompson total: census 2 * (4/3 for the missing outcome) + 10 * 1.
    assert result["weighted_violations"] == pytest.approx(2 * 4 / 3 + 10)
    assert result["lift"] == pytest.approx((2 / 3) / ((4 * 2 / 3 + 10) / 24))


def test_evaluation_needs_outcomes_and_a_sane_detection_probability() -> None:
    with pytest.raises(ValueError, match="outcome"):
        evaluate_plan(_hand_plan().drop("outcome"))
    with pytest.raises(ValueError, match="detection"):
        evaluate_plan(_hand_plan(), detection_probability=0.0)


def test_clopper_pearson_matches_published_values() -> None:
    # Exact 95% interval for 0/10 is (0, 0.3085) and for 5/10 (0.1871, 0.8129).
    assert clopper_pearson_interval(0, 10) == pytest.approx((0.0, 0.3085), abs=1e-4)
    assert clopper_pearson_interval(5, 10) == pytest.approx((0.1871, 0.8129), abs=1e-4)


def test_attach_outcomes_takes_the_first_inspection_after_the_plan() -> None:
    plan = pl.DataFrame({"sponsor_id": ["a", "b", "c"]})
    inspections = pl.DataFrame({
        "inspection_id": ["1", "2", "3", "4"],
        "sponsor_id": ["a", "a", "b", "c"],
        "opened_on": [date(2025, 2, 1), date(2025, 3, 1), date(2024, 12, 1), date(2025, 5, 1)],
        "outcome": ["NO_VIOLATION", "VIOLATION", "VIOLATION", "INCONCLUSIVE"]})
    out = attach_outcomes(plan, inspections, date(2025, 1, 1)).sort("sponsor_id")
    assert out["outcome"].to_list() == [0, None, None]


def test_violation_probability_combines_typologies() -> None:
    truth = pl.DataFrame({"sponsor_id": ["a", "b", "c"], "is_abusive": [True, True, False],
                          "typologies": [["shell", "paper"], ["paper"], []],
                          "abuse_from": [date(2020, 1, 1), date(2030, 1, 1), None]})
    chances = violation_probability(truth, {"shell": 0.5, "paper": 0.6}, date(2025, 1, 1),
                                    false_alarm_probability=0.1)
    # a: 1 - 0.5 * 0.4 = 0.8, plus a minor breach in 10% of the misses: 0.82.
    # b: abuse starts later -> only the minor-breach chance; c: clean.
    assert chances["violation_probability"].to_list() == pytest.approx([0.82, 0.1, 0.1])
    assert chances["abusive"].to_list() == [1.0, 0.0, 0.0]


def _world(seed: int, n: int = 3000) -> tuple[pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(seed)
    risk = rng.normal(size=n)
    abusive = rng.random(n) < 1 / (1 + np.exp(-(1.5 * risk - 3.0)))
    ids = [f"{i:08d}" for i in range(n)]
    scores = (pl.DataFrame({"sponsor_id": ids,
                            "score": 1 / (1 + np.exp(-(risk + rng.normal(0, 0.8, n))))})
              .sort("score", descending=True).with_row_index("rank", offset=1))
    truth = pl.DataFrame({"sponsor_id": ids, "is_abusive": abusive,
                          "typologies": [["underpayment"] if a else [] for a in abusive]})
    return scores, truth


def test_inverse_propensity_estimates_cover_the_truth_in_nine_of_ten_seeds() -> None:
    covered = {"precision_risk_based": 0, "prevalence_all": 0, "precision_top_k": 0}
    for seed in range(10):
        scores, truth = _world(seed)
        chances = violation_probability(truth, {"underpayment": 0.7}, None, 0.05)
        plan, _ = build_inspection_plan(scores, capacity=100, random_share=0.3, seed=seed)
        result = evaluate_plan(simulate_inspection_outcomes(plan, chances, seed + 100))
        target = true_rates(plan, scores, chances)
        for key in covered:
            estimate = result[key]
            covered[key] += estimate["lo"] <= target[key] <= estimate["hi"]
    assert all(count >= 9 for count in covered.values()), covered


def test_rogan_gladen_recovers_a_known_abuse_rate_over_many_draws() -> None:
    """Inspections find a violation at an abuser with s = 0.6 and at a clean sponsor with
    f = 0.07: the raw violation rate (~0.09) misses the abuse rate (0.05); the corrected
    estimate is unbiased and its interval covers the true rate in at least 95 % of draws,
    with the quality study's own uncertainty propagated or not."""
    from training.planning.estimates import estimate_abuse_rate

    s, f, n, draws = 0.6, 0.07, 2000, 300
    scores = _scores(n, seed=5)
    rng = np.random.default_rng(11)
    abusive = rng.random(n) < 0.05
    true_rate = abusive.mean()
    chance = pl.DataFrame({"sponsor_id": scores["sponsor_id"],
                           "p": np.where(abusive, s, f)})
    # a quality study of 60 abusers and 600 clean sponsors, drawn once
    s_hits, f_hits = int(rng.binomial(60, s)), int(rng.binomial(600, f))
    s_hat, f_hat = s_hits / 60, f_hits / 600
    s_ci, f_ci = clopper_pearson_interval(s_hits, 60), clopper_pearson_interval(f_hits, 600)
    raw_covers = plugin_covers = propagated_covers = 0
    raw_mean, estimates = 0.0, []
    for draw in range(draws):
        plan, _ = build_inspection_plan(scores, capacity=200, random_share=0.5, seed=draw)
        plan = plan.join(chance, on="sponsor_id", how="left").with_columns(
            outcome=pl.Series((rng.random(plan.height) < plan.join(
                chance, on="sponsor_id", how="left")["p"].to_numpy()).astype(np.int8)))
        known = estimate_abuse_rate(plan, s, f)["abuse_rate_all"]
        studied = estimate_abuse_rate(plan, s_hat, f_hat, s_ci, f_ci)
        raw = studied["prevalence_all"]
        raw_covers += raw["lo"] <= true_rate <= raw["hi"]
        raw_mean += raw["estimate"]
        plugin_covers += known["lo"] <= true_rate <= known["hi"]
        propagated_covers += studied["abuse_rate_all"]["lo"] <= true_rate <= \
            studied["abuse_rate_all"]["hi"]
        assert studied["abuse_rate_all"]["lo"] <= studied["abuse_rate_all"]["lo_plugin"]
        assert studied["abuse_rate_all"]["hi"] >= studied["abuse_rate_all"]["hi_plugin"]
        estimates.append(known["estimate"])
    assert plugin_covers / draws >= 0.93, plugin_covers
    assert propagated_covers / draws >= 0.95, propagated_covers
    # the uncorrected interval often misses it, its estimate is biased upwards
    assert raw_covers / draws < 0.75, raw_covers
    assert raw_mean / draws > true_rate + 0.02
    assert np.mean(estimates) == pytest.approx(true_rate, abs=0.01)


def test_the_correction_refuses_a_sensitivity_not_above_the_false_finding_rate() -> None:
    from training.planning.estimates import correct_for_misclassification, rogan_gladen

    estimate = {"estimate": 0.1, "lo": 0.05, "hi": 0.2}
    for s, f in ((0.1, 0.1), (0.05, 0.1), (1.2, 0.1), (0.6, -0.1)):
        with pytest.raises(ValueError, match="sensitivity"):
            correct_for_misclassification(estimate, s, f)
        with pytest.raises(ValueError, match="sensitivity"):
            rogan_gladen(0.1, s, f)
    assert rogan_gladen(0.1, 0.6, 0.05) == pytest.approx(0.05 / 0.55)
    # overlapping study intervals: not identified, the interval is everything
    wide = correct_for_misclassification(estimate, 0.3, 0.1, (0.05, 0.6), (0.05, 0.2))
    assert (wide["lo"], wide["hi"], wide["identified"]) == (0.0, 1.0, False)
    # below f the estimate is clipped to 0
    assert correct_for_misclassification({"estimate": 0.02, "lo": 0.01, "hi": 0.3}, 0.6,
                                         0.05)["estimate"] == 0.0


def test_the_correction_generalises_the_detection_probability() -> None:
    from training.planning.estimates import estimate_abuse_rate

    scaled = evaluate_plan(_hand_plan(), detection_probability=0.8)["prevalence_all"]
    corrected = estimate_abuse_rate(_hand_plan(), 0.8, 0.0)["abuse_rate_all"]
    for key in ("estimate", "lo", "hi"):
        assert corrected[key] == pytest.approx(scaled[key])
    # evaluate_plan itself is unchanged
    assert estimate_abuse_rate(_hand_plan(), 0.8, 0.0)["prevalence_all"] == \
        evaluate_plan(_hand_plan())["prevalence_all"]
