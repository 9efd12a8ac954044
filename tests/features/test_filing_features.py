"""Filing anomalies on a hand-made world (T = 2024-01-15; 12 months = Feb 2023..Jan 2024).

Sponsor recognised 2023-04-01. Migrant f1 (permit from 2023-04-01) is paid Apr..Dec 2023
except July, normally filed on the 10th of the next month; f2 (permit from 2023-05-01) is
never paid.
"""

from __future__ import annotations

import pytest

from tests.features.world import D, World, features_by_sponsor, months

T = D(2024, 1, 15)


@pytest.fixture(scope="module")
def filing() -> dict[str, dict]:
    w = World().sponsor("10000001", recognised_on=D(2023, 4, 1))
    w.sponsor("10000002", recognised_on=D(2023, 4, 1))
    w.permit("10000001", "f1", submitted_on=D(2023, 3, 1), valid_from=D(2023, 4, 1))
    w.permit("10000001", "f2", submitted_on=D(2023, 4, 1), valid_from=D(2023, 5, 1))
    paid = [m for m in months(D(2023, 4, 1), 9) if m != D(2023, 7, 1)]
    w.pay("10000001", "f1", [m for m in paid if m != D(2023, 8, 1)], 5500)
    w.pay("10000001", "f1", [D(2023, 8, 1)], 5500, filed_on=D(2023, 11, 20))  # late
    w.pay("10000001", "f1", [D(2023, 9, 1)], 5600, filed_on=D(2023, 12, 1), correction=True)
    w.totals("10000001", [m for m in paid if m != D(2023, 10, 1)], 1, 6000)
    w.totals("10000001", [D(2023, 10, 1)], 1, 3000)  # less than f1 alone was paid
    return features_by_sponsor(w, T)


def test_late_filings(filing: dict[str, dict]) -> None:
    s = filing["10000001"]
    # 8 first filings; August's arrived 2023-11-20, after the end of September
    assert s["late_filing_share"] == pytest.approx(1 / 8)
    # days from the end of the period: 9 for seven filings, 80 for August
    assert s["filing_delay_median_days"] == pytest.approx(9)


def test_corrections(filing: dict[str, dict]) -> None:
    assert filing["10000001"]["correction_share"] == pytest.approx(1 / 8)


def test_unpaid_and_never_paid_permits(filing: dict[str, dict]) -> None:
    s = filing["10000001"]
    # permit-months up to the last payroll month (Dec 2023): f1 Apr..Dec (9, July unpaid),
    # f2 May..Dec (8, all unpaid)
    assert s["unpaid_permit_month_share"] == pytest.approx(9 / 17)
    assert s["never_paid_permit_share"] == pytest.approx(1 / 2)


def test_workforce_gaps(filing: dict[str, dict]) -> None:
    # recognised months Apr..Nov 2023 (December may still be on its way): July missing
    assert filing["10000001"]["workforce_gap_share"] == pytest.approx(1 / 8)
    assert filing["10000002"]["workforce_gap_share"] == pytest.approx(1.0)


def test_wages_inconsistent_with_employer_totals(filing: dict[str, dict]) -> None:
    # 8 months with both; in October f1's 5500 exceeds the total of 3000
    assert filing["10000001"]["wage_total_inconsistency_share"] == pytest.approx(1 / 8)
