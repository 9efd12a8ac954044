"""Turnover features on a hand-made world (T = 2024-01-15; 12 months = Feb 2023..Jan 2024,
36 months = Feb 2021..Jan 2024)."""

from __future__ import annotations

import math

import pytest

from tests.features.world import D, World, features_by_sponsor, months

T = D(2024, 1, 15)


@pytest.fixture(scope="module")
def turnover() -> dict[str, dict]:
    w = World().sponsor("10000001").sponsor("10000002")
    for person in ("m1", "m2", "m3"):
        w.permit("10000001", person, submitted_on=D(2023, 3, 1))  # valid from 2023-03-31
    w.permit("10000001", "m4", submitted_on=D(2021, 6, 1))  # valid from 2021-07-01
    w.permit("10000001", "m5", submitted_on=D(2020, 1, 1))  # outside 36 months
    w.permit("10000001", "m7", submitted_on=D(2022, 1, 1))
    w.permit("10000001", "r1", submitted_on=D(2022, 4, 1), decided_on=D(2022, 5, 1),
             decision="REFUSED")
    w.pay("10000001", "m1", months(D(2023, 4, 1), 4), 6000)  # Apr..Jul 2023, then gone
    w.pay("10000001", "m2", months(D(2023, 4, 1), 9), 6000)  # Apr..Dec 2023, current
    w.pay("10000001", "m4", months(D(2021, 8, 1), 29), 6000)  # Aug 2021..Dec 2023, current
    w.pay("10000001", "m5", months(D(2020, 2, 1), 26), 6000)  # Feb 2020..Mar 2022
    w.pay("10000001", "m7", months(D(2022, 3, 1), 9), 6000)  # Mar..Nov 2022, then gone
    w.totals("10000001", [D(2022, 12, 1)], 5, 30000)
    w.totals("10000001", months(D(2023, 1, 1), 12), 10, 60000)
    return features_by_sponsor(w, T)


def test_permits_against_headcount(turnover: dict[str, dict]) -> None:
    s = turnover["10000001"]
    # 12 months: m1..m3; 36 months: also m4, m7 and r1; headcount in Dec 2023: 10
    assert s["permits_36m"] == 6
    assert s["permits_12m_per_headcount"] == pytest.approx(3 / 10)
    assert s["permits_36m_per_headcount"] == pytest.approx(6 / 10)
    # decided in 36 months: m1..m3, m4, m7 granted, r1 refused
    assert s["permit_refusal_share_36m"] == pytest.approx(1 / 6)


def test_early_leavers(turnover: dict[str, dict]) -> None:
    s = turnover["10000001"]
    # could reach 6 months (started Feb 2021..Jul 2023): m1 (left after 4), m2, m4, m7
    # (left after 9); m5 was already there when the window opened
    assert s["early_leaver_share_6m"] == pytest.approx(1 / 4)
    # could reach 12 months (started Feb 2021..Jan 2023): m4 and m7
    assert s["early_leaver_share_12m"] == pytest.approx(1 / 2)


def test_tenure_and_migrant_share(turnover: dict[str, dict]) -> None:
    s = turnover["10000001"]
    # on the latest payroll: m2 (terms from Mar 2023: 10 months) and m4 (Jul 2021: 30)
    assert s["migrants_current"] == 2
    assert s["tenure_median_months"] == pytest.approx(20)
    assert s["migrant_share_of_workforce"] == pytest.approx(2 / 10)
    # Dec 2022: 1 migrant (m4) of 5; Dec 2023: 2 of 10
    assert s["migrant_growth_vs_workforce"] == pytest.approx(math.log(3 / 2) - math.log(11 / 6))


def test_sponsor_without_records(turnover: dict[str, dict]) -> None:
    s = turnover["10000002"]
    assert s["permits_36m"] == 0 and s["migrants_current"] == 0
    assert s["permits_12m_per_headcount"] is None  # no headcount known
    assert s["early_leaver_share_6m"] is None and s["tenure_median_months"] is None
