"""Notification features on a hand-made world (T = 2024-01-15).

Four migrants left in 2023 (the sponsor kept filing for n4 through December): n1 reported
in 20 days, n2 after 77 days, n3 and n5 never.
"""

from __future__ import annotations

import pytest

from tests.features.world import D, World, features_by_sponsor, months

T = D(2024, 1, 15)


@pytest.fixture(scope="module")
def notices() -> dict[str, dict]:
    w = World().sponsor("10000001").sponsor("10000002")
    for person, paid_months in (("n1", 3), ("n2", 6), ("n3", 8), ("n4", 12), ("n5", 11)):
        w.permit("10000001", person, submitted_on=D(2022, 10, 1))
        w.pay("10000001", person, months(D(2023, 1, 1), paid_months), 6000)
    w.notice("10000001", "n1", "EMPLOYMENT_ENDED", D(2023, 3, 31), D(2023, 4, 20))
    w.notice("10000001", "n2", "EMPLOYMENT_ENDED", D(2023, 6, 30), D(2023, 9, 15))
    w.notice("10000001", None, "SPONSOR_CHANGED", D(2023, 5, 1), D(2023, 5, 10))
    # an older EMPLOYMENT_ENDED of n3 (an earlier job) does not cover the 2023 departure
    w.notice("10000001", "n3", "EMPLOYMENT_ENDED", D(2021, 1, 31), D(2021, 2, 5))
    return features_by_sponsor(w, T)


def test_unreported_departures(notices: dict[str, dict]) -> None:
    s = notices["10000001"]
    assert s["unreported_departures_36m"] == 3
    assert s["unreported_departure_share"] == pytest.approx(3 / 4)
    assert notices["10000002"]["unreported_departures_36m"] == 0
    assert notices["10000002"]["unreported_departure_share"] is None


def test_late_notices_and_delays(notices: dict[str, dict]) -> None:
    s = notices["10000001"]
    # events of the last 36 months: delays 20, 77, 9 (the 2021 notice is 36 months back:
    # Jan 2021 is not after Jan 2021)
    assert s["late_notice_share"] == pytest.approx(1 / 3)
    assert s["notice_delay_median_days"] == pytest.approx(20)


def test_departure_counts_only_once_its_deadline_has_passed() -> None:
    w = World().sponsor("10000001")
    w.permit("10000001", "x", submitted_on=D(2022, 10, 1))
    w.permit("10000001", "y", submitted_on=D(2022, 10, 1))
    w.pay("10000001", "x", months(D(2023, 1, 1), 9), 6000)  # last paid September
    w.pay("10000001", "y", months(D(2023, 1, 1), 9), 6000)
    w.pay("10000001", "y", [D(2023, 10, 1)], 6000, filed_on=D(2023, 10, 6))  # filed early
    # on 2023-10-20 x is known to have left (October filed without x), but the deadline of
    # 2023-10-29 (28 days after pay stopped on 2023-10-01) has not passed
    at = features_by_sponsor(w, D(2023, 10, 20))["10000001"]
    assert at["unreported_departures_36m"] == 0 and at["unreported_departure_share"] is None
    assert features_by_sponsor(w, D(2023, 10, 30))["10000001"]["unreported_departures_36m"] == 1
