"""The binomial intervals come from statsmodels and give the numbers of the formulas they
replaced (Wilson's score interval; Clopper-Pearson through the beta distribution)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import beta

from training.fitting.metrics import binomial_interval
from training.governance.disparity import wilson_interval
from training.planning.estimates import clopper_pearson_interval

Z_95 = 1.959963984540054


def _wilson_by_hand(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return (0.0 if successes == 0 else max(0.0, centre - half),
            1.0 if successes == trials else min(1.0, centre + half))


def _clopper_pearson_by_hand(successes: int, trials: int) -> tuple[float, float]:
    lo = 0.0 if successes == 0 else float(beta.ppf(0.025, successes, trials - successes + 1))
    hi = 1.0 if successes == trials else float(beta.ppf(0.975, successes + 1,
                                                        trials - successes))
    return lo, hi


CASES = [(k, n) for n in (1, 2, 3, 7, 20, 100, 1_000, 9_751) for k in
         sorted({0, 1, n // 3, n // 2, n - 1, n})]


@pytest.mark.parametrize(("successes", "trials"), CASES)
def test_wilson_matches_the_formula(successes: int, trials: int) -> None:
    assert wilson_interval(successes, trials) == pytest.approx(
        _wilson_by_hand(successes, trials), abs=1e-12)


@pytest.mark.parametrize(("successes", "trials"), CASES)
def test_clopper_pearson_matches_the_beta_quantiles(successes: int, trials: int) -> None:
    assert clopper_pearson_interval(successes, trials) == pytest.approx(
        _clopper_pearson_by_hand(successes, trials), abs=1e-12)


def test_elementwise_and_without_trials() -> None:
    lo, hi = binomial_interval(np.array([0, 5, 0]), np.array([10, 10, 0]))
    assert lo[:2] == pytest.approx([0.0, _wilson_by_hand(5, 10)[0]])
    assert hi[:2] == pytest.approx([_wilson_by_hand(0, 10)[1], _wilson_by_hand(5, 10)[1]])
    assert math.isnan(lo[2]) and math.isnan(hi[2])
    assert clopper_pearson_interval(0, 0) == (0.0, 1.0)
