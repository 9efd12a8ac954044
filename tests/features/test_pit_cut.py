"""The contract's test of the point-in-time rule: features as of T from the whole extract
equal, to the last value, features from the extract cut to what was recorded by T.

On a simulated world delivered three ways (as the simulator writes it, under contract
version 1, and with contract version 2 versions added independently of the simulator), and
on a hand-made world with one record per rule of knowledge time.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import pytest

from benchmarks.bench_pit import as_of_dates, extracts
from features.build import build_feature_history
from features.cut import CutComparison, compare_cut_and_whole, compare_snapshots, cut_extract
from sponsorwatch.thresholds import load_thresholds
from tests.conftest import SMALL_WORLD_SEED
from tests.features.world import D, World, months

S1, S2, S3, S4, S5 = (f"1000000{i}" for i in range(1, 6))
#: Month-ends around the hand world's changes, January to July 2024.
MONTH_ENDS = [D(2024, 1, 31), D(2024, 2, 29), D(2024, 3, 31), D(2024, 4, 30), D(2024, 5, 31),
              D(2024, 6, 30), D(2024, 7, 31)]
WORLD_SPONSORS = 400


@pytest.fixture(scope="module")
def thresholds() -> pl.DataFrame:
    return load_thresholds()


@pytest.fixture(scope="module")
def simulated() -> dict[str, dict[str, pl.DataFrame]]:
    from pipelines.simulate import simulate_world

    return extracts(simulate_world(WORLD_SPONSORS, SMALL_WORLD_SEED), SMALL_WORLD_SEED)


def assert_identical(results: list[CutComparison]) -> None:
    wrong = [r.as_dict() for r in results if not r.identical]
    assert not wrong, f"features from the cut extract differ: {wrong}"


@pytest.mark.parametrize("delivery", ["as_simulated", "version_1", "versions_added"])
def test_cut_and_whole_agree_on_a_simulated_world(
        simulated: dict[str, dict[str, pl.DataFrame]], thresholds: pl.DataFrame,
        delivery: str) -> None:
    tables = {name: frame.lazy() for name, frame in simulated[delivery].items()}
    results = compare_cut_and_whole(tables, as_of_dates(), thresholds, use_sector=True)
    assert len(results) == 12
    assert sum(r.sponsors for r in results) > 10 * 200
    assert_identical(results)


def first_version(w: World, table: str, recorded_on: dt.date) -> None:
    w.rows[table][-1]["recorded_on"] = recorded_on


def new_version(w: World, table: str, recorded_on: dt.date, **changes: Any) -> None:
    """A later version of the last row of ``table``."""
    w.rows[table].append({**w.rows[table][-1], **changes, "recorded_on": recorded_on})


def hand_world() -> World:
    """One record per rule of knowledge time (contract version 2):

    - S1 (address A1, officer o1): revoked with effect 1 March 2024, recorded 10 May;
    - S2 (address A1, officer o1, and o2 appointed 15 January, registered 20 March): an
      inspection closed with a violation in 2023, overturned on appeal 15 February 2024;
    - S3: renamed (recorded 1 April), then its recognition ended retroactively from
      1 February (recorded 3 June, after the rename);
    - S4 (officer o2): revoked in 2020, long known;
    - S5: moves to A1 and from SBI 62 to 56, recorded 15 April; an inspection closed
      20 April whose outcome is recorded 5 May; a permit decided after some of the days.
    """
    w = World()
    w.sponsor(S1, address_key="A1")
    first_version(w, "sponsors", D(2015, 1, 1))
    new_version(w, "sponsors", D(2024, 5, 10), recognition_ended_on=D(2024, 3, 1),
                recognition_end_reason="REVOKED")
    w.sponsor(S2, address_key="A1")
    first_version(w, "sponsors", D(2015, 1, 1))
    w.sponsor(S3, address_key="A3")
    first_version(w, "sponsors", D(2015, 1, 1))
    new_version(w, "sponsors", D(2024, 4, 1), name="Renamed")
    new_version(w, "sponsors", D(2024, 6, 3), recognition_ended_on=D(2024, 2, 1),
                recognition_end_reason="WITHDRAWN_BY_SPONSOR")
    w.sponsor(S4, address_key="A4")
    first_version(w, "sponsors", D(2015, 1, 1))
    new_version(w, "sponsors", D(2020, 6, 1), recognition_ended_on=D(2020, 6, 1),
                recognition_end_reason="REVOKED")
    w.sponsor(S5, address_key="A5", sbi_code="62010")
    first_version(w, "sponsors", D(2015, 1, 1))
    new_version(w, "sponsors", D(2024, 4, 15), address_key="A1", sbi_code="56101",
                postcode4="1012")
    for sponsor, officer, start, recorded in ((S1, "o1", D(2016, 1, 1), D(2016, 1, 1)),
                                              (S2, "o1", D(2016, 1, 1), D(2016, 1, 5)),
                                              (S4, "o2", D(2015, 1, 1), D(2015, 1, 1)),
                                              (S2, "o2", D(2024, 1, 15), D(2024, 3, 20))):
        w.officer(sponsor, officer, from_date=start)
        first_version(w, "sponsor_officers", recorded)
    w.inspection(S2, opened_on=D(2023, 3, 1), closed_on=D(2023, 6, 1), outcome="VIOLATION",
                 fine=5000.0)
    first_version(w, "inspections", D(2023, 6, 1))
    new_version(w, "inspections", D(2024, 2, 15), outcome="NO_VIOLATION", findings=None,
                fine_eur=None)
    w.inspection(S5, opened_on=D(2024, 2, 1), closed_on=D(2024, 4, 20), outcome="VIOLATION",
                 fine=2000.0)
    first_version(w, "inspections", D(2024, 5, 5))
    for sponsor, person, wage in ((S2, "p1", 6000.0), (S5, "q1", 5200.0)):
        w.permit(sponsor, person, submitted_on=D(2022, 1, 10))
        w.pay(sponsor, person, months(D(2022, 3, 1), 28), wage)
        w.totals(sponsor, months(D(2022, 3, 1), 28), 12, 60000.0)
    w.permit(S5, "q2", submitted_on=D(2024, 4, 1), decided_on=D(2024, 5, 20), decision="REFUSED")
    return w


Snapshots = dict[dt.date, dict[str, dict[str, Any]]]


def snapshots(w: World) -> Snapshots:
    """Per day of :data:`MONTH_ENDS`, each active sponsor's features."""
    history = build_feature_history(w.frames(), MONTH_ENDS, load_thresholds())
    assert history is not None
    return {day: {row["sponsor_id"]: row for row in
                  history.filter(pl.col("as_of") == day).iter_rows(named=True)}
            for day in MONTH_ENDS}


@pytest.fixture(scope="module")
def hand() -> Snapshots:
    return snapshots(hand_world())


def column(days: Snapshots, feature: str, sponsor: str) -> list[Any]:
    """The feature of ``sponsor`` on each day (None where it is not active)."""
    return [days[day].get(sponsor, {}).get(feature) for day in MONTH_ENDS]


def test_cut_and_whole_agree_on_every_rule(thresholds: pl.DataFrame) -> None:
    days = [D(2023, 12, 31), *MONTH_ENDS, D(2024, 8, 31)]
    assert_identical(compare_cut_and_whole(hand_world().frames(), days, thresholds, True))


def test_a_revocation_counts_from_when_it_was_recorded(hand: Snapshots) -> None:
    # with effect from 1 March, recorded 10 May: active as of T until the recording
    assert [s is not None for s in column(hand, "company_age_years", S1)] == [
        True, True, True, True, False, False, False]
    assert column(hand, "address_shared_with_revoked", S2) == [0, 0, 0, 0, 1, 1, 1]


def test_a_retroactive_end_after_a_later_version_counts_from_its_recording(
        hand: Snapshots) -> None:
    # renamed on 1 April, ended from 1 February recorded 3 June
    assert [s is not None for s in column(hand, "company_age_years", S3)] == [
        True, True, True, True, True, False, False]


def test_an_officer_registered_late_links_from_the_registration(hand: Snapshots) -> None:
    # o2 (shared with S4, revoked in 2020) registered 20 March; S1's revocation 10 May
    assert column(hand, "officer_shared_with_revoked", S2) == [0, 0, 1, 1, 2, 2, 2]
    assert column(hand, "officer_other_sponsors", S2) == [1, 1, 2, 2, 2, 2, 2]


def test_an_outcome_changed_on_appeal_counts_from_the_appeal(hand: Snapshots) -> None:
    assert column(hand, "past_inspections", S2) == [1] * 7
    assert column(hand, "past_violations", S2) == [1, 0, 0, 0, 0, 0, 0]
    assert column(hand, "past_fines_eur", S2) == [5000, 0, 0, 0, 0, 0, 0]
    # closed 20 April, outcome recorded 5 May
    assert column(hand, "past_violations", S5) == [0, 0, 0, 0, 1, 1, 1]


def test_a_move_and_new_sbi_code_count_from_their_recording(hand: Snapshots) -> None:
    assert column(hand, "sector_division", S5) == [62, 62, 62, 56, 56, 56, 56]
    assert column(hand, "sector_section", S5) == [10, 10, 10, 9, 9, 9, 9]  # J, then I
    assert column(hand, "sponsors_at_address", S5) == [0, 0, 0, 2, 2, 2, 2]  # S1, S2
    assert column(hand, "sponsors_at_address", S2) == [1, 1, 1, 2, 2, 2, 2]


def test_a_version_1_delivery_of_the_same_world_leaks_as_the_contract_warns() -> None:
    """Without recorded_on a row is taken to be recorded on its effective dates: the
    revocation shows from 1 March and the sponsor's later SBI code from the start."""
    w = hand_world()
    for table in ("sponsors", "sponsor_officers", "inspections"):
        latest: dict[Any, dict[str, Any]] = {}
        for row in w.rows[table]:
            key = row.get("inspection_id") or (row["sponsor_id"], row.get("officer_key"))
            latest[key] = {**row, "recorded_on": None}
        w.rows[table] = list(latest.values())
    days = snapshots(w)
    assert [s is not None for s in column(days, "company_age_years", S1)] == [
        True, True, False, False, False, False, False]
    assert column(days, "sector_division", S5) == [56] * 7


def test_cut_extract_applies_each_rule() -> None:
    world = hand_world()
    day = D(2024, 4, 30)
    cut = {name: frame.collect() for name, frame in
           cut_extract({**world.frames(), "truth": pl.LazyFrame({"x": [1]})}, day).items()}
    assert cut["truth"].height == 1  # not a contract table: passes unchanged
    sponsors = cut["sponsors"]
    assert sponsors["recorded_on"].max() <= day
    assert sponsors.filter(pl.col("sponsor_id") == S1)["recognition_ended_on"].to_list() == [None]
    assert sponsors.filter(pl.col("sponsor_id") == S3)["name"].to_list() == [
        f"Sponsor {S3}", "Renamed"]
    officers = cut["sponsor_officers"]
    assert officers.filter(pl.col("officer_key") == "o2").height == 2
    inspections = cut["inspections"].sort("sponsor_id")
    # S2's appeal is in; S5's inspection, closed 20 April but recorded 5 May, is open
    assert inspections["outcome"].to_list() == ["VIOLATION", "NO_VIOLATION", "OPEN"]
    open_one = inspections.row(2, named=True)
    assert (open_one["closed_on"], open_one["fine_eur"], open_one["findings"],
            open_one["recorded_on"]) == (None, None, None, D(2024, 2, 1))
    refused_later = cut["permits"].filter(pl.col("person_key") == "q2").row(0, named=True)
    assert (refused_later["decision"], refused_later["decided_on"],
            refused_later["valid_from"]) == ("PENDING", None, None)
    assert cut["permits"].filter(pl.col("person_key") != "q2")["decision"].unique().to_list() == [
        "GRANTED"]
    for name in ("payroll", "workforce"):
        assert cut[name]["filed_on"].max() <= day
        assert cut[name].height < world.frames()[name].collect().height


def test_cut_of_a_version_1_extract_derives_versions_first() -> None:
    w = World()
    w.sponsor(S1, ended_on=D(2024, 6, 1), end_reason="REVOKED")
    w.officer(S1, "o1", from_date=D(2020, 1, 1), to_date=D(2024, 6, 1))
    w.inspection(S1, opened_on=D(2024, 1, 10), closed_on=D(2024, 5, 1), outcome="VIOLATION")
    frames = {name: frame.drop("recorded_on", strict=False) for name, frame in w.frames().items()}
    cut = {name: frame.collect() for name, frame in cut_extract(frames, D(2024, 4, 30)).items()}
    assert cut["sponsors"].select("recorded_on", "recognition_ended_on").rows() == [
        (D(2015, 1, 1), None)]
    assert cut["sponsor_officers"].select("recorded_on", "to_date").rows() == [
        (D(2020, 1, 1), None)]
    assert cut["inspections"].select("recorded_on", "outcome").rows() == [
        (D(2024, 1, 10), "OPEN")]


def test_comparison_counts_every_difference_and_takes_nan_as_equal() -> None:
    day = D(2024, 1, 31)
    whole = pl.DataFrame({"sponsor_id": ["a", "b", "c"], "as_of": [day] * 3,
                          "x": [1.0, float("nan"), None], "y": [0.1, 0.2, 0.3]})
    assert compare_snapshots(whole, whole.clone()).identical
    # a few units in the last place more for "a", and "c" missing
    cut = whole.with_columns(pl.when(pl.col("sponsor_id") == "a").then(pl.col("y") + 1e-16)
                             .otherwise(pl.col("y")).alias("y")).filter(pl.col("sponsor_id") != "c")
    result = compare_snapshots(whole, cut)
    assert not result.identical
    assert result.sponsors == 3 and result.only_whole == ["c"] and result.only_cut == []
    assert result.differences == {"y": 1}
    assert result.examples[0]["sponsor_id"] == "a"
