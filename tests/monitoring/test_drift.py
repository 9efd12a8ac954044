"""The monitor's building blocks on frames made by hand: PSI, the KS test, Holm, the null
shares, the delivery checks and the alert rules."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from scipy.stats import ks_2samp
from statsmodels.stats.multitest import multipletests

from training.monitoring import drift, inputs
from training.monitoring.report import Thresholds, feature_alerts, input_alerts, top_overlap

RNG = np.random.default_rng(19)


def test_psi_is_near_zero_for_the_same_distribution_and_large_for_a_shift() -> None:
    reference = RNG.normal(size=20_000)
    assert drift.psi(reference, RNG.normal(size=5_000)) < 0.01
    assert 0.05 < drift.psi(reference, RNG.normal(0.3, size=5_000)) < 0.25
    assert drift.psi(reference, RNG.normal(1.0, size=5_000)) > 0.5


def test_psi_keeps_a_point_mass_in_a_bin_of_its_own() -> None:
    # 70 % zeros: the deciles collapse onto 0; the zeros still have their own bin, so
    # moving them to small positive values is a shift.
    reference = np.where(RNG.random(10_000) < 0.7, 0.0, RNG.random(10_000))
    moved = np.where(reference == 0, 1e-3, reference)
    assert drift.psi(reference, reference) == pytest.approx(0.0)
    assert drift.psi(reference, moved) > 1


def test_ks_statistic_is_scipys_and_the_p_value_close_to_its_asymptotic_one() -> None:
    a, b = np.round(RNG.normal(size=4_000), 1), RNG.normal(0.1, size=700)
    statistic, pvalue = drift.ks_test(a, b)
    reference = ks_2samp(a, b, method="asymp")
    assert statistic == pytest.approx(reference.statistic)
    assert pvalue == pytest.approx(reference.pvalue, rel=0.2)
    assert drift.ks_test(a, np.empty(0)) == (pytest.approx(float("nan"), nan_ok=True), 1.0)


def test_holm_matches_statsmodels() -> None:
    for size in (1, 7, 55):
        p = RNG.random(size) ** 4
        assert drift.holm(p) == pytest.approx(list(multipletests(p, method="holm")[1]))


def _frame(values: dict[str, np.ndarray]) -> pl.DataFrame:
    n = len(next(iter(values.values())))
    return pl.DataFrame({"sponsor_id": [f"{i:08d}" for i in range(n)], **values})


def test_feature_drift_finds_the_step_the_nulls_and_leaves_the_rest() -> None:
    n = 3_000
    reference = _frame({"steady": RNG.normal(size=4 * n), "stepped": RNG.normal(size=4 * n),
                        "emptied": RNG.normal(size=4 * n)})
    previous = _frame({"steady": RNG.normal(size=n), "stepped": RNG.normal(size=n),
                       "emptied": RNG.normal(size=n)})
    current = _frame({"steady": RNG.normal(size=n), "stepped": RNG.normal(1.5, size=n),
                      "emptied": np.full(n, np.nan)})
    table = drift.feature_drift(reference, current, ["steady", "stepped", "emptied"],
                                previous)
    rows = {r["feature"]: r for r in table.iter_rows(named=True)}
    assert rows["steady"]["psi"] < 0.02 and rows["steady"]["ks_pvalue_holm"] > 0.01
    assert rows["stepped"]["step_psi"] > 1 and rows["stepped"]["step_ks_pvalue_holm"] < 1e-9
    assert rows["emptied"]["null_share"] == 1.0 and rows["emptied"]["null_share_reference"] == 0
    alerts = {(a["check"], a["subject"]) for a in feature_alerts(table, Thresholds())
              if a["severity"] == "alert"}
    assert alerts == {("feature_step", "stepped"), ("feature_drift", "stepped"),
                      ("null_share", "emptied")}


def test_a_small_shift_in_a_large_world_warns_but_does_not_alert() -> None:
    n = 50_000
    reference = _frame({"x": RNG.normal(size=n)})
    current = _frame({"x": RNG.normal(0.55, size=n)})
    table = drift.feature_drift(reference, current, ["x"], reference)
    found = feature_alerts(table, Thresholds())
    assert [a["severity"] for a in found if a["check"] == "feature_drift"] == ["warning"]
    # the same shift seen against the previous snapshot is a step
    assert [a["check"] for a in found if a["severity"] == "alert"] == ["feature_step"]
    assert not [a for a in feature_alerts(table, Thresholds(step_psi=0.5))
                if a["severity"] == "alert"]


def test_threshold_coverage_names_the_schemes_without_this_years_step() -> None:
    thresholds = pl.DataFrame({
        "valid_from": [dt.date(2023, 1, 1)] * 2 + [dt.date(2024, 1, 1), dt.date(2024, 6, 12)],
        "scheme": ["KM_REGULAR", "EU_BLUE_CARD", "KM_REGULAR", "EU_BLUE_CARD"],
        "monthly_threshold": [5008.0, 5867.0, 5331.0, 5331.0]})
    assert inputs.threshold_coverage(thresholds, dt.date(2024, 3, 31))["missing_step"] == [
        "EU_BLUE_CARD"]
    assert inputs.threshold_coverage(thresholds, dt.date(2024, 7, 31))["missing_step"] == []
    assert inputs.threshold_coverage(thresholds, dt.date(2025, 1, 31))["missing_step"] == [
        "EU_BLUE_CARD", "KM_REGULAR"]


def _payroll(days: list[dt.date], hours: list[float | None]) -> pl.DataFrame:
    return pl.DataFrame({"sponsor_id": "00000001", "filed_on": days, "gross_wage": 5000.0,
                         "hours_paid": hours}, schema_overrides={"hours_paid": pl.Float64})


def test_an_empty_delivered_column_alerts_and_a_full_one_does_not() -> None:
    old = [dt.date(2022, 1, 1) + dt.timedelta(days=i % 360) for i in range(2_000)]
    new = [dt.date(2024, 1, 10)] * 300
    window = (dt.date(2021, 12, 31), dt.date(2022, 12, 31))
    for hours, alerted in (([None] * 300, True), ([160.0] * 300, False)):
        tables = {"payroll": _payroll(old + new, [160.0] * 2_000 + hours)}
        table = inputs.empty_columns(tables, dt.date(2024, 1, 31), dt.date(2023, 12, 31),
                                     window)
        found = input_alerts(table, inputs.sector_mix(
            pl.DataFrame(schema={"sponsor_id": pl.String, "submitted_on": pl.Date}),
            pl.DataFrame(schema={"sponsor_id": pl.String, "sector": pl.String}),
            dt.date(2024, 1, 31), dt.date(2023, 12, 31), window),
            {"missing_step": [], "year": 2024}, Thresholds())
        assert [(a["check"], a["subject"]) for a in found] == (
            [("input_empty", "payroll.hours_paid")] if alerted else [])


def test_a_sector_whose_applications_stop_alerts() -> None:
    sectors = pl.DataFrame({"sponsor_id": ["1", "2", "3"], "sector": ["J", "K", "M"]})
    then = [(s, dt.date(2022, 1 + i % 12, 1 + i % 28)) for i in range(1_200) for s in "123"]
    now = [(s, dt.date(2024, 1, 15)) for s in "23" for _ in range(60)]
    permits = pl.DataFrame(then + now, schema=["sponsor_id", "submitted_on"], orient="row")
    table = inputs.sector_mix(permits, sectors, dt.date(2024, 1, 31), dt.date(2023, 12, 31),
                              (dt.date(2021, 12, 31), dt.date(2022, 12, 31)))
    rows = {r["sector"]: r for r in table.iter_rows(named=True)}
    assert rows["J"]["applications"] == 0 and rows["J"]["expected"] == pytest.approx(40)
    found = input_alerts(inputs.empty_columns({}, dt.date(2024, 1, 31), dt.date(2023, 12, 31),
                                              (dt.date(2021, 12, 31), dt.date(2022, 12, 31))),
                         table, {"missing_step": [], "year": 2024}, Thresholds())
    assert [(a["check"], a["subject"]) for a in found] == [("sector_mix", "J")]


def test_top_overlap_counts_the_previous_top_k_still_there() -> None:
    previous = pl.DataFrame({"sponsor_id": list("abcdef"), "score": [6.0, 5, 4, 3, 2, 1]})
    current = pl.DataFrame({"sponsor_id": list("abcdef"), "score": [1.0, 5, 4, 3, 2, 6]})
    assert top_overlap(current, previous, 3) == pytest.approx(2 / 3)
    assert top_overlap(current, None, 3) is None
