"""The point-in-time rule: nothing filed after T changes a feature as of T."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from features.build import build_feature_history, build_features
from features.pit import known_as_of
from sponsorwatch.contract import TABLES
from sponsorwatch.thresholds import load_thresholds
from tests.features.world import D, World, months

T = D(2024, 1, 15)
FEATURES_DIR = Path(__file__).resolve().parents[2] / "features"


@pytest.fixture(scope="module")
def thresholds() -> pl.DataFrame:
    return load_thresholds()


def busy_world() -> World:
    """Three sponsors touching every feature family, all before T."""
    w = World()
    w.sponsor("10000001", address_key="A1", recognised_on=D(2018, 1, 1))
    w.sponsor("10000002", address_key="A1", founded_on=D(2021, 6, 1),
              recognised_on=D(2022, 1, 1), legal_form="EENMANSZAAK", sbi_code="56101")
    w.sponsor("10000003", address_key="A2", ended_on=D(2023, 3, 1), end_reason="REVOKED")
    w.sponsor("10000004", address_key="A1")
    for person, scheme, wage in (("p1", "KM_REGULAR", 5800), ("p2", "KM_UNDER_30", 4300),
                                 ("p3", "KM_REGULAR", 5100)):
        w.permit("10000001", person, submitted_on=D(2021, 11, 1), scheme=scheme, salary=6000)
        w.pay("10000001", person, months(D(2022, 1, 1), 22 if person != "p3" else 9), wage)
    w.totals("10000001", months(D(2022, 1, 1), 23), 20, 90000)
    w.permit("10000002", "q1", submitted_on=D(2022, 2, 1), salary=5700)
    w.pay("10000002", "q1", months(D(2022, 4, 1), 20), 5690, hours=230)
    w.permit("10000002", "q2", submitted_on=D(2023, 12, 1), decision="PENDING")
    w.totals("10000002", months(D(2022, 4, 1), 20), 1, 5690)
    w.officer("10000002", "q1", from_date=D(2021, 6, 1))
    w.officer("10000002", "o9", from_date=D(2021, 6, 1))
    w.officer("10000003", "o9", from_date=D(2016, 1, 1))
    w.notice("10000001", "p3", "EMPLOYMENT_ENDED", D(2022, 9, 30), D(2022, 12, 1))
    w.inspection("10000001", opened_on=D(2020, 1, 1), closed_on=D(2020, 4, 1),
                 outcome="VIOLATION", fine=3000)
    return w


def add_records_filed_after(w: World, after: dt.date) -> None:
    """Late corrections, new permits, decisions, notices, inspections, revocations,
    officers: everything dated after ``after``."""
    later = after + dt.timedelta(days=1)
    # a late correction of months already known, and wages of the current month
    w.pay("10000001", "p1", months(D(2023, 1, 1), 12), 100.0, filed_on=later, correction=True)
    w.pay("10000001", "p2", [D(2024, 1, 1)], 1.0, filed_on=later)
    w.totals("10000001", months(D(2023, 6, 1), 6), 1, 1.0, filed_on=later, correction=True)
    # a permit submitted after T, and a decision after T on one submitted before it
    w.permit("10000001", "p9", submitted_on=later, salary=1000)
    pending = next(r for r in w.rows["permits"] if r["person_key"] == "q2")
    pending.update(decided_on=later, decision="REFUSED")
    w.notice("10000001", "p1", "EMPLOYMENT_ENDED", D(2023, 1, 1), later)
    w.notice("10000002", None, "SPONSOR_CHANGED", D(2023, 12, 20), later)
    w.inspection("10000002", opened_on=D(2023, 6, 1), closed_on=later, outcome="VIOLATION",
                 fine=9000)
    w.inspection("10000001", opened_on=later, closed_on=later + dt.timedelta(days=40),
                 outcome="VIOLATION")
    w.officer("10000001", "o9", from_date=later)
    w.officer("10000002", "q1", from_date=D(2020, 1, 1), to_date=later, role="OWNER")
    # a sponsor at the same address revoked after T, and one recognised after T
    revoked = next(r for r in w.rows["sponsors"] if r["sponsor_id"] == "10000004")
    revoked.update(recognition_ended_on=later, recognition_end_reason="REVOKED")
    w.sponsor("10000005", address_key="A1", recognised_on=later)


def test_records_filed_after_t_change_no_feature(thresholds: pl.DataFrame) -> None:
    world = busy_world()
    before = build_features(world.frames(), T, thresholds).collect()
    assert before.height == 3
    add_records_filed_after(world, T)
    after = build_features(world.frames(), T, thresholds).collect()
    assert_frame_equal(before, after)
    # the same records do count once they are known
    moved = build_features(world.frames(), T + dt.timedelta(days=60), thresholds).collect()
    assert moved["past_inspections"].to_list() != before["past_inspections"].to_list()


def test_correction_filed_before_t_replaces_the_original(thresholds: pl.DataFrame) -> None:
    world = busy_world()
    # p1's wages of Feb..Oct 2023 corrected below the criterion, filed before T
    world.pay("10000001", "p1", months(D(2023, 2, 1), 9), 3000.0, filed_on=D(2024, 1, 10),
              correction=True)
    row = build_features(world.frames(), T, thresholds).collect().row(0, named=True)
    # months Feb 2023..Jan 2024: p1 and p2 are paid Feb..Oct 2023 (9 months each); p1's 9
    # are now 3000 (KM_REGULAR 2023: 5008), p2's stay 4300 (KM_UNDER_30 2023: 3672).
    assert row["salary_below_threshold_share"] == pytest.approx(9 / 18)
    assert row["correction_share"] == pytest.approx(9 / 18)
    known = known_as_of(world.frames(), T)["payroll"].collect()
    p1_2023 = known.filter((pl.col("person_key") == "p1") & (pl.col("period").dt.year() == 2023))
    assert p1_2023.sort("period")["gross_wage"].to_list() == [5800.0] + [3000.0] * 9


def test_known_as_of_applies_the_rule_per_table() -> None:
    w = World()
    w.sponsor("10000001", ended_on=D(2024, 6, 1), end_reason="REVOKED")
    w.sponsor("10000002", recognised_on=D(2024, 2, 1))
    w.permit("10000001", "p1", submitted_on=D(2023, 12, 1), decided_on=D(2024, 2, 1))
    w.permit("10000001", "p2", submitted_on=D(2024, 2, 1))
    w.officer("10000001", "o1", from_date=D(2020, 1, 1), to_date=D(2024, 3, 1))
    w.officer("10000001", "o2", from_date=D(2024, 3, 1))
    w.inspection("10000001", opened_on=D(2023, 1, 1), closed_on=D(2023, 3, 1),
                 outcome="NO_VIOLATION")
    w.inspection("10000001", opened_on=D(2023, 6, 1), closed_on=D(2024, 3, 1),
                 outcome="VIOLATION")
    w.inspection("10000001", opened_on=D(2023, 9, 1), closed_on=None, outcome="OPEN")
    w.notice("10000001", "p1", "HOURS_CHANGED", D(2023, 12, 1), D(2023, 12, 20))
    w.notice("10000001", "p1", "JOB_CHANGED", D(2023, 12, 1), D(2024, 1, 20))
    known = {k: v.collect() for k, v in known_as_of(w.frames(), T).items()}
    # A version 1 row is taken to be recorded on its effective date (contract v2): the
    # sponsor recognised after T is not known on T at all; the revocation after T is not.
    sponsors = known["sponsors"].sort("sponsor_id")
    assert sponsors["sponsor_id"].to_list() == ["10000001"]
    assert sponsors["recognition_ended_on"].to_list() == [None]
    assert sponsors["recognition_end_reason"].to_list() == [None]
    assert sponsors["recognised_on"].to_list() == [D(2015, 1, 1)]
    permits = known["permits"]
    assert permits.height == 1
    assert permits["decision"].to_list() == ["PENDING"]
    assert permits.select("decided_on", "valid_from", "valid_until").row(0) == (None,) * 3
    officers = known["sponsor_officers"]
    assert officers["officer_key"].to_list() == ["o1"] and officers["to_date"].to_list() == [None]
    assert known["inspections"]["outcome"].to_list() == ["NO_VIOLATION"]
    assert known["notifications"]["kind"].to_list() == ["HOURS_CHANGED"]


def test_restricted_column_is_never_selected() -> None:
    restricted = [c.name for c in TABLES["permits"].columns if c.restricted]
    assert restricted, "the contract marks a restricted permits column"
    known = known_as_of(busy_world().frames(), T)
    assert known["permits"].collect_schema().names() == TABLES["permits"].unrestricted_columns()
    for path in FEATURES_DIR.rglob("*.py"):
        text = path.read_text(encoding="utf-8").lower()
        for name in restricted:
            assert name not in text, f"{path} mentions the restricted column {name!r}"


def test_restricted_values_change_no_feature(thresholds: pl.DataFrame) -> None:
    world = busy_world()
    before = build_features(world.frames(), T, thresholds).collect()
    restricted = [c.name for c in TABLES["permits"].columns if c.restricted][0]
    for row, value in zip(world.rows["permits"], ("USA", "CHN", None, "TUR"), strict=False):
        row[restricted] = value
    assert_frame_equal(before, build_features(world.frames(), T, thresholds).collect())


def test_history_matches_one_snapshot_at_a_time(thresholds: pl.DataFrame) -> None:
    world = busy_world()
    add_records_filed_after(world, D(2023, 6, 30))
    dates = [D(2023, 3, 31), D(2023, 6, 30), D(2023, 9, 30), T]
    history = build_feature_history(world.frames(), dates, thresholds)
    one_by_one = pl.concat([build_features(world.frames(), d, thresholds).collect()
                            for d in dates])
    assert_frame_equal(history, one_by_one)


filings = st.lists(
    st.tuples(st.sampled_from(["p1", "p2"]), st.integers(0, 3),  # person, month offset
              st.integers(0, 120), st.floats(1000, 9000, allow_nan=False)),  # filed delay, wage
    min_size=0, max_size=25)


@settings(max_examples=60, deadline=None)
@given(rows=filings, as_of_offset=st.integers(0, 200))
def test_latest_filing_known_on_t_wins(rows: list[tuple[str, int, int, float]],
                                       as_of_offset: int) -> None:
    """Against a brute force: per person and period, the filing with the latest filed_on
    not after T, whatever the order and the corrections."""
    w = World().sponsor("10000001")
    seen: set[tuple[str, dt.date, dt.date]] = set()
    for person, offset, delay, wage in rows:
        period = months(D(2023, 1, 1), offset + 1)[-1]
        filed = period + dt.timedelta(days=delay)
        if (person, period, filed) in seen:  # the contract key is unique
            continue
        seen.add((person, period, filed))
        w.pay("10000001", person, [period], round(wage, 2), filed_on=filed,
              correction=delay > 40)
    as_of = D(2023, 1, 1) + dt.timedelta(days=as_of_offset)
    expected: dict[tuple[str, dt.date], tuple[dt.date, float]] = {}
    for r in w.rows["payroll"]:
        key = (r["person_key"], r["period"])
        if r["filed_on"] <= as_of and (key not in expected or r["filed_on"] > expected[key][0]):
            expected[key] = (r["filed_on"], r["gross_wage"])
    got = known_as_of(w.frames(), as_of)["payroll"].collect()
    assert {(r["person_key"], r["period"]): (r["filed_on"], r["gross_wage"])
            for r in got.iter_rows(named=True)} == expected
    assert got.height == len(expected)
