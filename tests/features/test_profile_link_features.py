"""Profile, history and link features on a hand-made world (T = 2024-01-15)."""

from __future__ import annotations

import math

import pytest

from features.build import build_features
from sponsorwatch.thresholds import load_thresholds
from tests.features.world import D, World, features_by_sponsor, months

T = D(2024, 1, 15)


@pytest.fixture(scope="module")
def world() -> World:
    w = World()
    w.sponsor("10000001", founded_on=D(2019, 7, 1), recognised_on=D(2021, 7, 1),
              legal_form="EENMANSZAAK", sbi_code="56101", address_key="A1")
    w.sponsor("10000002", address_key="A1", ended_on=D(2023, 1, 1), end_reason="REVOKED")
    w.sponsor("10000003", address_key="A1", ended_on=D(2024, 6, 1), end_reason="REVOKED")
    w.sponsor("10000004", address_key="A2", legal_form="STICHTING", sbi_code="6201")
    w.sponsor("10000005", address_key="A1", recognised_on=D(2024, 5, 1))
    w.sponsor("10000006", legal_form="FOREIGN_ENTITY", sbi_code="01130",
              ended_on=D(2022, 1, 1), end_reason="BANKRUPT")
    w.totals("10000001", months(D(2023, 1, 1), 12), 10, 60000)
    w.officer("10000001", "o1", from_date=D(2020, 1, 1))
    w.officer("10000002", "o1", from_date=D(2018, 1, 1), to_date=D(2022, 12, 31))
    w.officer("10000001", "o2", from_date=D(2020, 1, 1))
    w.officer("10000004", "o2", from_date=D(2022, 1, 1))
    w.officer("10000004", "o3", from_date=D(2024, 3, 1))  # appointed after T
    w.officer("10000002", "o3", from_date=D(2018, 1, 1))
    w.officer("10000001", "m1", from_date=D(2021, 1, 1))
    w.officer("10000004", "m1", from_date=D(2021, 1, 1))
    w.permit("10000001", "m1", submitted_on=D(2021, 8, 1))
    w.inspection("10000001", opened_on=D(2022, 1, 1), closed_on=D(2022, 3, 1),
                 outcome="VIOLATION", fine=3000)
    w.inspection("10000001", opened_on=D(2023, 1, 1), closed_on=D(2023, 2, 1),
                 outcome="NO_VIOLATION")
    w.inspection("10000001", opened_on=D(2023, 11, 1), closed_on=None, outcome="OPEN")
    return w


@pytest.fixture(scope="module")
def links(world: World) -> dict[str, dict]:
    return features_by_sponsor(world, T)


def test_only_sponsors_recognised_and_not_ended_on_t(links: dict[str, dict]) -> None:
    # 10000002 revoked and 10000006 bankrupt before T, 10000005 recognised after it;
    # 10000003 is revoked only after T
    assert sorted(links) == ["10000001", "10000003", "10000004"]


def test_profile(links: dict[str, dict]) -> None:
    s = links["10000001"]
    assert s["company_age_years"] == pytest.approx((T - D(2019, 7, 1)).days / 365.25)
    assert s["founding_to_recognition_years"] == pytest.approx(731 / 365.25)
    assert s["recognition_age_years"] == pytest.approx((T - D(2021, 7, 1)).days / 365.25)
    assert (s["legal_form_code"], s["legal_form_small_business"],
            s["legal_form_not_for_profit"], s["legal_form_foreign"]) == (4, 1, 0, 0)
    assert s["log_headcount"] == pytest.approx(math.log(11))
    assert (s["sector_division"], s["sector_section"]) == (56, 9)  # I: accommodation, food
    other = links["10000004"]
    assert (other["legal_form_code"], other["legal_form_not_for_profit"]) == (5, 1)
    assert (other["sector_division"], other["sector_section"]) == (62, 10)  # J: ICT
    assert other["log_headcount"] is None


def test_sector_can_be_switched_off(world: World) -> None:
    frame = build_features(world.frames(), T, load_thresholds(), use_sector=False).collect()
    assert not {"sector_division", "sector_section"} & set(frame.columns)


def test_inspection_history(links: dict[str, dict]) -> None:
    s = links["10000001"]
    assert (s["past_inspections"], s["past_violations"], s["past_fines_eur"]) == (2, 1, 3000)
    assert links["10000004"]["past_inspections"] == 0


def test_links_to_revoked_sponsors(links: dict[str, dict]) -> None:
    s = links["10000001"]
    # address A1: 10000002 (revoked before T) and 10000003 (revoked only after T);
    # 10000005 is not yet recognised
    assert (s["address_shared_with_revoked"], s["sponsors_at_address"]) == (1, 2)
    # o1 with 10000002 (revoked), o2 and m1 with 10000004
    assert (s["officer_shared_with_revoked"], s["officer_other_sponsors"]) == (1, 2)
    other = links["10000004"]
    # o3 joined after T, so the link to revoked 10000002 is not known yet
    assert (other["officer_shared_with_revoked"], other["officer_other_sponsors"]) == (0, 1)
    assert (other["address_shared_with_revoked"], other["sponsors_at_address"]) == (0, 0)


def test_migrants_who_are_officers(links: dict[str, dict]) -> None:
    # m1 holds a permit with 10000001 and is its officer; at 10000004 only an officer
    assert links["10000001"]["migrant_officers"] == 1
    assert links["10000004"]["migrant_officers"] == 0
