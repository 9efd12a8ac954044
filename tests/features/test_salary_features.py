"""Salary features on a hand-made world whose answers are worked out below.

T = 2023-12-20: the last 12 months are Jan..Dec 2023 (Dec not filed yet), so every wage in
the window is held against the 2023 criteria (KM_REGULAR 5008, KM_UNDER_30 3672).
"""

from __future__ import annotations

import pytest

from features.build import build_features
from sponsorwatch.thresholds import load_thresholds
from tests.features.world import D, World, months

T = D(2023, 12, 20)
CONTRACT_HOURS = 40 * 52 / 12


def features_of(world: World, as_of=T) -> dict[str, dict]:  # noqa: ANN001
    frame = build_features(world.frames(), as_of, load_thresholds()).collect()
    return {row["sponsor_id"]: row for row in frame.iter_rows(named=True)}


@pytest.fixture(scope="module")
def salary_world() -> dict[str, dict]:
    w = World().sponsor("10000001").sponsor("10000002")
    # a: KM_REGULAR, declared 4850 on 2021-12-01 (criterion 4752); paid 4900 in 2022, 5100
    # in 2023 (5100 / 5008 = 1.0184: just above)
    w.permit("10000001", "a", submitted_on=D(2021, 12, 1), salary=4850)
    w.pay("10000001", "a", months(D(2022, 1, 1), 12), 4900, hours=CONTRACT_HOURS)
    w.pay("10000001", "a", months(D(2023, 1, 1), 11), 5100, hours=CONTRACT_HOURS)
    # b: KM_UNDER_30, declared 4000 on 2022-11-01 (criterion 3549); paid 3600 < 3672 for
    # 220 hours a month from Jan 2023
    w.permit("10000001", "b", submitted_on=D(2022, 11, 1), scheme="KM_UNDER_30", salary=4000)
    w.pay("10000001", "b", months(D(2023, 1, 1), 11), 3600, hours=220)
    # c: KM_REGULAR, declared 7000 on 2021-12-01; paid 5100 from Nov 2022, never raised
    w.permit("10000001", "c", submitted_on=D(2021, 12, 1), salary=7000)
    w.pay("10000001", "c", months(D(2022, 11, 1), 13), 5100, hours=CONTRACT_HOURS)
    w.totals("10000001", months(D(2023, 1, 1), 11), 10, 60000)
    return features_of(w)


def test_underpayment(salary_world: dict[str, dict]) -> None:
    s = salary_world["10000001"]
    # 33 migrant-months in 2023, b's 11 below the criterion
    assert s["salary_below_threshold_share"] == pytest.approx(11 / 33)
    assert s["salary_ratio_median"] == pytest.approx(5100 / 5008)
    assert s["salary_ratio_lowest"] == pytest.approx(3600 / 3672)


def test_bunching_paid_and_declared(salary_world: dict[str, dict]) -> None:
    s = salary_world["10000001"]
    # a and c paid 1.0184 x the criterion, b below it
    assert s["salary_bunching_share"] == pytest.approx(2 / 3)
    # declared: a 4850/4752 = 1.0206 (bunched), b 4000/3549 = 1.1271, c 7000/4752 = 1.4731
    assert s["declared_ratio_median"] == pytest.approx(4000 / 3549)
    assert s["declared_bunching_share"] == pytest.approx(1 / 3)


def test_paid_against_declared(salary_world: dict[str, dict]) -> None:
    # 11 months each of 5100/4850, 3600/4000 = 0.9 and 5100/7000: the median is 0.9
    assert salary_world["10000001"]["salary_paid_vs_declared"] == pytest.approx(0.9)


def test_raises_and_wages_tracking_the_criterion(salary_world: dict[str, dict]) -> None:
    s = salary_world["10000001"]
    # Nov 2023 against Nov 2022: a 5100 > 4900 (raised), c 5100 = 5100 (not); b unpaid then
    assert s["salary_no_raise_share"] == pytest.approx(1 / 2)
    # a's ratio 4900/4840 = 1.0124 -> 5100/5008 = 1.0184 moved with the criterion;
    # c's 5100/4840 = 1.0537 -> 1.0184 did not
    assert s["salary_tracks_threshold_share"] == pytest.approx(1 / 2)


def test_hours_beyond_contract(salary_world: dict[str, dict]) -> None:
    s = salary_world["10000001"]
    assert s["hours_paid_vs_contract"] == pytest.approx(1.0)
    assert s["hours_excess_share"] == pytest.approx(11 / 33)


def test_identical_salaries(salary_world: dict[str, dict]) -> None:
    # a and c are both paid 5100 in each month of 2023
    assert salary_world["10000001"]["salary_identical_share"] == pytest.approx(22 / 33)


def test_other_staff_against_the_criterion(salary_world: dict[str, dict]) -> None:
    s = salary_world["10000001"]
    # each month of 2023: totals 10 staff / 60000, migrants a, b, c paid 13800, so 7 other
    # staff share 46200; the migrants' criteria average (5008 + 3672 + 5008) / 3
    criterion = (5008 + 3672 + 5008) / 3
    assert s["other_staff_wage_vs_criterion"] == pytest.approx(46200 / 7 / criterion)
    assert s["other_staff_wage_bill_vs_criterion"] == pytest.approx(46200 / criterion)


def test_other_staff_features_ignore_what_the_migrants_are_paid() -> None:
    def other_staff(migrant_wage: float) -> dict:
        w = World().sponsor("10000001")
        w.permit("10000001", "a", submitted_on=D(2022, 11, 1), salary=5200)
        w.pay("10000001", "a", months(D(2023, 1, 1), 11), migrant_wage, hours=CONTRACT_HOURS)
        # the employer's totals move with the migrant's wage, as a real payroll shows
        w.totals("10000001", months(D(2023, 1, 1), 11), 4, 9000 + migrant_wage)
        return features_of(w)["10000001"]

    at, double = other_staff(5008), other_staff(2 * 5008)
    for name in ("other_staff_wage_vs_criterion", "other_staff_wage_bill_vs_criterion"):
        assert at[name] == pytest.approx(double[name])
    assert at["other_staff_wage_vs_criterion"] == pytest.approx(3000 / 5008)


def test_a_wage_bill_of_migrants_only_has_no_other_staff() -> None:
    w = World().sponsor("10000001")
    w.permit("10000001", "a", submitted_on=D(2022, 11, 1), salary=5200)
    w.pay("10000001", "a", months(D(2023, 1, 1), 11), 5100, hours=CONTRACT_HOURS)
    w.totals("10000001", months(D(2023, 1, 1), 11), 1, 5100)
    s = features_of(w)["10000001"]
    assert s["other_staff_wage_bill_vs_criterion"] == 0.0
    assert s["other_staff_wage_vs_criterion"] is None


def test_sponsor_without_payroll_has_undefined_salary_features(
        salary_world: dict[str, dict]) -> None:
    s = salary_world["10000002"]
    assert s["salary_below_threshold_share"] is None
    assert s["salary_ratio_median"] is None
    assert s["declared_ratio_median"] is None


def test_wage_is_held_against_the_criterion_in_force_in_its_month() -> None:
    w = World().sponsor("10000001")
    w.permit("10000001", "x", submitted_on=D(2023, 9, 1), scheme="EU_BLUE_CARD", salary=6500)
    w.pay("10000001", "x", months(D(2023, 10, 1), 11), 6000)
    s = features_of(w, D(2024, 9, 15))["10000001"]
    # Oct..Dec 2023 against 5867 (above), Jan..Jun 2024 against 6245 (below: the new Blue
    # Card criterion starts on 12 June, so June is held against the old one), Jul..Aug
    # 2024 against 5331 (above)
    assert s["salary_below_threshold_share"] == pytest.approx(6 / 11)


def test_declared_salary_is_held_against_the_criterion_on_submission() -> None:
    w = World().sponsor("10000001").sponsor("10000002")
    w.permit("10000001", "x", submitted_on=D(2024, 6, 11), scheme="EU_BLUE_CARD", salary=6000)
    w.permit("10000002", "y", submitted_on=D(2024, 6, 12), scheme="EU_BLUE_CARD", salary=6000)
    s = features_of(w, D(2024, 9, 15))
    assert s["10000001"]["declared_ratio_median"] == pytest.approx(6000 / 6245)
    assert s["10000002"]["declared_ratio_median"] == pytest.approx(6000 / 5331)


def test_scheme_follows_the_permit_in_force_when_paid() -> None:
    """Under-30 permit renewed as regular: each month against its own permit's scheme."""
    w = World().sponsor("10000001")
    w.permit("10000001", "x", submitted_on=D(2022, 1, 1), scheme="KM_UNDER_30", salary=4000,
             valid_from=D(2022, 2, 1), valid_until=D(2023, 7, 1))
    w.permit("10000001", "x", submitted_on=D(2023, 5, 1), scheme="KM_REGULAR", salary=5500,
             valid_from=D(2023, 7, 1))
    w.pay("10000001", "x", months(D(2023, 1, 1), 11), 4500)
    s = features_of(w)["10000001"]
    # Jan..Jun 2023 under 30 (4500 > 3672), Jul..Nov regular (4500 < 5008)
    assert s["salary_below_threshold_share"] == pytest.approx(5 / 11)
    # median of 6 x 4500/4000 and 5 x 4500/5500
    assert s["salary_paid_vs_declared"] == pytest.approx(4500 / 4000)


def test_part_months_are_not_held_against_the_monthly_criterion() -> None:
    """A job starting mid-month is paid in part: half the hours, half the wage."""
    w = World().sponsor("10000001")
    w.permit("10000001", "x", submitted_on=D(2023, 1, 1), salary=6000)
    w.pay("10000001", "x", [D(2023, 2, 1)], 3000, hours=CONTRACT_HOURS / 2)
    w.pay("10000001", "x", months(D(2023, 3, 1), 9), 6000, hours=CONTRACT_HOURS)
    s = features_of(w)["10000001"]
    assert s["salary_below_threshold_share"] == 0
    assert s["salary_ratio_lowest"] == pytest.approx(6000 / 5008)
    assert s["hourly_below_threshold_share"] == 0


def test_unpaid_hours_show_in_the_wage_per_hour() -> None:
    """5100 a month meets the criterion, but not for 1.3 x the contract hours."""
    w = World().sponsor("10000001")
    w.permit("10000001", "x", submitted_on=D(2022, 11, 1), salary=5100)
    w.pay("10000001", "x", months(D(2023, 1, 1), 5), 5100, hours=CONTRACT_HOURS)
    w.pay("10000001", "x", months(D(2023, 6, 1), 6), 5100, hours=CONTRACT_HOURS * 1.3)
    s = features_of(w)["10000001"]
    assert s["salary_below_threshold_share"] == 0
    assert s["hourly_below_threshold_share"] == pytest.approx(6 / 11)
    # median of 5 x 5100/5008 and 6 x 5100/5008/1.3
    assert s["hourly_wage_ratio_median"] == pytest.approx(5100 / 5008 / 1.3)
    assert s["hours_excess_share"] == pytest.approx(6 / 11)


def test_a_month_with_exactly_the_full_month_share_of_hours_counts_as_full() -> None:
    """156 of 173.33 contract hours is 0.9 up to rounding, which must not decide."""
    w = World().sponsor("10000001")
    w.permit("10000001", "x", submitted_on=D(2022, 11, 1), salary=5500)
    w.pay("10000001", "x", months(D(2023, 1, 1), 11), 4000, hours=156.0)
    s = features_of(w)["10000001"]
    assert s["salary_below_threshold_share"] == 1.0
    assert s["salary_ratio_median"] == pytest.approx(4000 / 5008)
