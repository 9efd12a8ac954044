"""Every abuse typology leaves the traces it claims in the records, honest look-alikes
exist, inspections behave like a biased label process, and no real sponsor is named."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from pipelines.simulate import World, generate_world
from pipelines.simulate.names import normalise_name
from pipelines.simulate.typologies import SECTORS, TYPOLOGY_NAMES
from sponsorwatch.contract import NOTIFICATION_DEADLINE_DAYS
from sponsorwatch.thresholds import load_thresholds, with_threshold_in_force

#: Big enough that every typology and archetype occurs; small enough for a second or two.
SPONSORS, SEED = 900, 424242


@pytest.fixture(scope="module")
def world() -> World:
    return generate_world(SPONSORS, SEED)


def _with(world: World, typology: str) -> pl.Series:
    truth = world.tables["truth"]
    return truth.filter(pl.col("typologies").list.contains(typology))["sponsor_id"]


def _honest(world: World) -> pl.Series:
    return world.tables["truth"].filter(~pl.col("is_abusive"))["sponsor_id"]


def _share(flagged: pl.DataFrame, ids: pl.Series) -> float:
    """Share of ``ids`` present in ``flagged.sponsor_id``."""
    return float(ids.is_in(flagged["sponsor_id"].implode()).mean())


def _latest_payroll(world: World) -> pl.DataFrame:
    """Latest filing per person and month, with the threshold in force and the contract."""
    payroll = (world.tables["payroll"].sort("filed_on")
               .group_by("sponsor_id", "person_key", "period").last())
    permits = world.tables["permits"].select("person_key", "scheme", "declared_weekly_hours",
                                             "declared_monthly_salary")
    joined = payroll.join(permits, on="person_key").lazy()
    return with_threshold_in_force(joined, load_thresholds(), "period").collect()


def test_every_typology_and_archetype_occurs(world: World) -> None:
    for name in TYPOLOGY_NAMES:
        assert _with(world, name).len() >= 3, name
    archetypes = set(world.profile.filter(pl.col("hard_negative"))["archetype"])
    assert archetypes == {"university", "startup", "large_firm", "it_consultancy",
                          "branch_office"}


def test_abuse_is_a_few_percent_and_every_sector_has_some(world: World) -> None:
    truth = world.tables["truth"]
    assert 0.03 <= truth["is_abusive"].mean() <= 0.14
    assert all(s.abuse_weight > 0 for s in SECTORS)
    by_sector = world.profile.join(truth, on="sponsor_id").group_by("sector").agg(
        pl.len(), pl.col("is_abusive").sum())
    assert by_sector.filter((pl.col("len") >= 50) & (pl.col("is_abusive") == 0)).is_empty()
    assert truth.filter(pl.col("is_abusive") != (pl.col("typologies").list.len() > 0)).is_empty()
    assert truth.filter(pl.col("is_abusive") != pl.col("abuse_from").is_not_null()).is_empty()


def test_underpayment_shows_as_months_below_the_threshold_or_unpaid_hours(world: World) -> None:
    pay = _latest_payroll(world).with_columns(
        contract_hours=pl.col("declared_weekly_hours") * 52 / 12)
    # Part months at a start or an end are legitimately low: ignore months under 3/4 hours.
    full = pay.filter(pl.col("hours_paid") >= 0.75 * pl.col("contract_hours"))
    below = full.filter(pl.col("gross_wage") < 0.95 * pl.col("threshold"))
    long_days = full.filter(pl.col("hours_paid") > 1.15 * pl.col("contract_hours"))
    flagged = pl.concat([below.select("sponsor_id"), long_days.select("sponsor_id")]).unique()
    underpaying, honest = _share(flagged, _with(world, "underpayment")), _share(
        below.select("sponsor_id").unique(), _honest(world))
    # Most, not all: abuse that starts late in the window or in an empty month stays unseen.
    assert underpaying >= 0.5
    # Honest sponsors dip below too (hours cut, then reported), far less often.
    assert honest <= underpaying / 3
    # Never reported: an underpaying sponsor files no SALARY_BELOW_CRITERION notice.
    notices = world.tables["notifications"].filter(pl.col("kind") == "SALARY_BELOW_CRITERION")
    assert _share(notices, _with(world, "underpayment")) < 0.2


def _while_abusing(world: World, frame: pl.DataFrame, day: str) -> pl.DataFrame:
    """Rows of ``frame`` in the months its sponsor abuses (every row of honest sponsors):
    a sponsor that stopped after an inspection found it leaves no new trace after."""
    truth = world.tables["truth"].select("sponsor_id", "abuse_from", "abuse_until")
    return frame.join(truth, on="sponsor_id", how="left").filter(
        pl.col("abuse_from").is_null()
        | ((pl.col(day) >= pl.col("abuse_from").dt.month_start())
           & (pl.col("abuse_until").is_null() | (pl.col(day) <= pl.col("abuse_until"))))
    ).drop("abuse_from", "abuse_until")


def test_salary_repayment_shows_as_bunching_without_raises(world: World) -> None:
    pay = _latest_payroll(world).with_columns(ratio=pl.col("gross_wage") / pl.col("threshold"))
    abusing = _while_abusing(world, pay, "period")
    per_sponsor = abusing.filter(pl.col("period").dt.month() != 1).group_by("sponsor_id").agg(
        bunched=pl.col("ratio").is_between(0.999, 1.03).mean())
    bunching = per_sponsor.filter(pl.col("bunched") >= 0.5)
    repaying = _share(bunching, _with(world, "salary_repayment"))
    research = world.profile.filter(pl.col("sector") == "research")["sponsor_id"]
    honest = _honest(world).filter(~_honest(world).is_in(research.implode()))
    assert repaying >= 0.5
    assert _share(bunching, honest) <= repaying / 3
    # No raises: outside January (indexation) a wage pegged at the criterion never moves.
    pegged = pay.filter(pl.col("sponsor_id").is_in(bunching["sponsor_id"].implode())
                        & pl.col("sponsor_id").is_in(_with(world, "salary_repayment").implode()))
    moves = (pegged.sort("person_key", "period")
             .with_columns(prev=pl.col("ratio").shift().over("person_key"),
                           prev_period=pl.col("period").shift().over("person_key"))
             .filter((pl.col("period").dt.month() != 1)
                     & pl.col("prev").is_between(0.999, 1.03)
                     & pl.col("ratio").is_between(0.999, 1.03)
                     & (pl.col("prev_period").dt.offset_by("1mo") == pl.col("period"))
                     & (pl.col("hours_paid") >= 0.99 * 52 / 12 * pl.col("declared_weekly_hours"))))
    # (a correction may revise a month; those are rare)
    assert ((moves["ratio"] - moves["prev"]).abs() > 0.001).mean() < 0.05


def test_research_bunching_is_honest(world: World) -> None:
    research = world.profile.filter((pl.col("sector") == "research") & pl.col("hard_negative"))
    pay = _latest_payroll(world).with_columns(ratio=pl.col("gross_wage") / pl.col("threshold"))
    bunched = pay.filter(pl.col("sponsor_id").is_in(research["sponsor_id"].implode())
                         & pl.col("ratio").is_between(0.999, 1.04))
    assert bunched.height > 0


def test_paper_jobs_leave_unpaid_permits_gaps_and_many_permits(world: World) -> None:
    permits = world.tables["permits"].filter(
        (pl.col("decision") == "GRANTED") & (pl.col("valid_from") < date(2025, 6, 1)))
    paid = world.tables["payroll"].select("person_key").unique()
    never_paid = permits.join(paid, on="person_key", how="anti").filter(
        pl.col("valid_from") >= date(2019, 1, 1))
    months = _latest_payroll(world).group_by("sponsor_id", "person_key").agg(
        span=(pl.col("period").max().dt.year() * 12 + pl.col("period").max().dt.month())
        - (pl.col("period").min().dt.year() * 12 + pl.col("period").min().dt.month()) + 1,
        paid=pl.len())
    gaps = months.filter(pl.col("paid") < pl.col("span"))
    flagged = pl.concat([never_paid.select("sponsor_id"), gaps.select("sponsor_id")]).unique()
    mills = _with(world, "paper_jobs")
    assert _share(flagged, mills) >= 0.6
    assert _share(flagged, _honest(world)) <= _share(flagged, mills) / 3
    # Many permits for the size of the workforce.
    size = world.tables["workforce"].group_by("sponsor_id").agg(pl.col("headcount").median())
    per_head = world.tables["permits"].group_by("sponsor_id").len().join(
        size, on="sponsor_id").with_columns(per_head=pl.col("len") / pl.col("headcount"))
    mill = per_head.filter(pl.col("sponsor_id").is_in(mills.implode()))["per_head"].median()
    honest = per_head.filter(pl.col("sponsor_id").is_in(_honest(world).implode()))[
        "per_head"].median()
    assert mill > honest


def test_shells_are_young_tiny_and_run_by_their_migrant(world: World) -> None:
    shells = _with(world, "shell")
    sponsors = world.tables["sponsors"].filter(pl.col("sponsor_id").is_in(shells.implode()))
    age_days = (sponsors["recognised_on"] - sponsors["founded_on"]).dt.total_days()
    assert age_days.max() <= 400
    officers = world.tables["sponsor_officers"].join(
        world.tables["permits"].select("sponsor_id", pl.col("person_key").alias("officer_key")),
        on=["sponsor_id", "officer_key"])
    assert _share(officers, shells) >= 0.6
    wf = world.tables["workforce"].filter(~pl.col("is_correction"))
    pay = world.tables["payroll"].filter(~pl.col("is_correction")).group_by(
        "sponsor_id", "period").agg(migrants=pl.len(), wages=pl.col("gross_wage").sum())
    totals = wf.join(pay, on=["sponsor_id", "period"]).filter(
        pl.col("sponsor_id").is_in(shells.implode()))
    assert totals.height > 0
    assert (totals["headcount"] == totals["migrants"]).all()
    assert ((totals["total_gross_wage"] - totals["wages"]).abs() < 0.05).all()


def test_phoenixes_share_an_officer_or_address_with_a_revoked_sponsor(world: World) -> None:
    sponsors = world.tables["sponsors"]
    revoked = sponsors.filter(pl.col("recognition_end_reason") == "REVOKED").select(
        pl.col("sponsor_id").alias("revoked_id"), pl.col("address_key"),
        pl.col("recognition_ended_on").alias("revoked_on"))
    officers = world.tables["sponsor_officers"].select("sponsor_id", "officer_key")
    by_officer = officers.join(officers.rename({"sponsor_id": "revoked_id"}),
                               on="officer_key").join(revoked, on="revoked_id")
    by_address = sponsors.select("sponsor_id", "address_key").join(revoked, on="address_key")
    links = pl.concat([by_officer.select("sponsor_id", "revoked_id", "revoked_on"),
                       by_address.select("sponsor_id", "revoked_id", "revoked_on")]).filter(
        pl.col("sponsor_id") != pl.col("revoked_id")).join(
        sponsors.select("sponsor_id", "recognised_on"), on="sponsor_id").filter(
        pl.col("revoked_on") < pl.col("recognised_on"))
    phoenixes = _with(world, "phoenix")
    assert _share(links, phoenixes) == 1.0
    # Honest sponsors can share with a revoked sponsor too (trust offices, business centres).
    assert _share(links, _honest(world)) > 0


def test_notification_failure_leaves_ends_unreported_or_late(world: World) -> None:
    ends = world.tables["notifications"].filter(pl.col("kind") == "EMPLOYMENT_ENDED")
    late = ends.filter((pl.col("filed_on") - pl.col("event_on")).dt.total_days()
                       > NOTIFICATION_DEADLINE_DAYS)
    on_time = (ends.height - late.height) / ends.height
    assert on_time >= 0.75  # most sponsors report within 28 days
    pay = world.tables["payroll"].group_by("sponsor_id", "person_key").agg(
        last=pl.col("period").max())
    stopped = pay.filter(pl.col("last") < date(2025, 6, 1))
    reported = ends.filter((pl.col("filed_on") - pl.col("event_on")).dt.total_days()
                           <= NOTIFICATION_DEADLINE_DAYS).select("person_key")
    unreported = stopped.join(reported, on="person_key", how="anti").group_by("sponsor_id").len()
    failing = _with(world, "notification_failure")
    per = stopped.group_by("sponsor_id").len().rename({"len": "stopped"}).join(
        unreported, on="sponsor_id", how="left").fill_null(0).with_columns(
        share=pl.col("len") / pl.col("stopped"))
    failing_share = per.filter(pl.col("sponsor_id").is_in(failing.implode()))["share"].mean()
    honest_share = per.filter(pl.col("sponsor_id").is_in(_honest(world).implode()))[
        "share"].mean()
    assert failing_share > 2 * honest_share


def test_hard_negatives_look_suspicious(world: World) -> None:
    profile, permits = world.profile, world.tables["permits"]
    pay = _latest_payroll(world).with_columns(ratio=pl.col("gross_wage") / pl.col("threshold"))
    consultancies = profile.filter(pl.col("archetype") == "it_consultancy")["sponsor_id"]
    assert pay.filter(pl.col("sponsor_id").is_in(consultancies.implode()))[
        "ratio"].median() > 1.3
    universities = profile.filter(pl.col("archetype") == "university")["sponsor_id"]
    young = permits.filter(pl.col("sponsor_id").is_in(universities.implode()))
    assert young["scheme"].is_in(["KM_UNDER_30", "KM_REDUCED"]).mean() > 0.5
    startups = world.tables["sponsors"].join(profile, on="sponsor_id").filter(
        pl.col("archetype") == "startup")
    assert ((startups["recognised_on"] - startups["founded_on"]).dt.total_days()
            <= 2 * 366).mean() > 0.9
    large = profile.filter(pl.col("archetype") == "large_firm")["sponsor_id"]
    corrections = world.tables["payroll"].group_by("sponsor_id").agg(
        pl.col("is_correction").mean())
    large_rate = corrections.filter(pl.col("sponsor_id").is_in(large.implode()))[
        "is_correction"].mean()
    other_rate = corrections.filter(~pl.col("sponsor_id").is_in(large.implode()))[
        "is_correction"].mean()
    assert large_rate > 2 * other_rate


def test_inspections_are_a_biased_imperfect_label_process(world: World) -> None:
    inspections = world.tables["inspections"].join(world.tables["truth"], on="sponsor_id")
    closed = inspections.filter(pl.col("outcome") != "OPEN")
    rate = closed.group_by("selection").agg(hit=(pl.col("outcome") == "VIOLATION").mean())
    hits = dict(zip(rate["selection"], rate["hit"], strict=True))
    assert hits["RANDOM"] < hits["RISK_BASED"]
    abusing = closed.filter(pl.col("is_abusive") & (pl.col("abuse_from") <= pl.col("opened_on")))
    assert (abusing["outcome"] != "VIOLATION").any()  # detection below 1
    clean = closed.filter(~pl.col("is_abusive"))
    assert (clean["outcome"] == "VIOLATION").any()  # minor breaches at clean sponsors
    revoked = world.tables["sponsors"].filter(pl.col("recognition_end_reason") == "REVOKED")
    violations = closed.filter(pl.col("outcome") == "VIOLATION").select(
        "sponsor_id", "closed_on")
    explained = revoked.join(violations, on="sponsor_id").filter(
        pl.col("closed_on") < pl.col("recognition_ended_on"))["sponsor_id"].unique()
    assert revoked.height > 0 and explained.len() == revoked.height


def test_workforce_totals_cover_the_migrants_on_payroll(world: World) -> None:
    pay = world.tables["payroll"].filter(~pl.col("is_correction")).group_by(
        "sponsor_id", "period").agg(migrants=pl.len(), wages=pl.col("gross_wage").sum())
    wf = world.tables["workforce"].filter(~pl.col("is_correction"))
    joined = pay.join(wf, on=["sponsor_id", "period"], how="left")
    assert joined["headcount"].null_count() == 0
    assert (joined["headcount"] >= joined["migrants"]).all()
    assert (joined["total_gross_wage"] >= joined["wages"] - 0.05).all()
    corrected = world.tables["payroll"].filter(pl.col("is_correction"))
    originals = world.tables["payroll"].filter(~pl.col("is_correction")).select(
        "sponsor_id", "person_key", "period", pl.col("filed_on").alias("first_filed"))
    assert (corrected.join(originals, on=["sponsor_id", "person_key", "period"])
            .filter(pl.col("filed_on") <= pl.col("first_filed")).is_empty())


def test_no_real_sponsor_name_or_number_is_used(ind_register: Path, world: World) -> None:
    payload = json.loads(ind_register.read_text(encoding="utf-8"))
    names = {normalise_name(e["name"]) for e in payload["sponsors"] if e.get("name")}
    numbers = {str(e["kvk"]) for e in payload["sponsors"] if e.get("kvk")}
    sponsors = world.tables["sponsors"]
    assert not {normalise_name(n) for n in sponsors["name"]} & names
    assert not set(sponsors["sponsor_id"]) & numbers
    # One row per version of a sponsor's record; renames are invented names too.
    assert sponsors.select("sponsor_id", "recorded_on").is_unique().all()
    assert sponsors["sponsor_id"].n_unique() == SPONSORS


def test_nationality_causes_nothing_else(monkeypatch: pytest.MonkeyPatch) -> None:
    """Swap every migrant's nationality: all other columns of all tables stay the same."""
    import numpy as np

    from pipelines.simulate import migrants

    before = generate_world(150, 99).tables
    monkeypatch.setattr(migrants, "draw_nationality",
                        lambda sector, rng: np.full(sector.size, "XXX", dtype=object))
    after = generate_world(150, 99).tables
    assert set(after["permits"]["nationality"]) == {"XXX"}
    for name, frame in before.items():
        other = after[name]
        if name == "permits":
            frame, other = frame.drop("nationality"), other.drop("nationality")
        assert frame.equals(other), name


def test_nationality_follows_the_sector_mix_only(world: World) -> None:
    """Within a sector, abusive and honest sponsors' migrants come from the same mix."""
    permits = world.tables["permits"].join(world.profile.select("sponsor_id", "sector"),
                                           on="sponsor_id").join(
        world.tables["truth"].select("sponsor_id", "is_abusive"), on="sponsor_id")
    for sector_name in ("ict", "business_services"):
        rows = permits.filter(pl.col("sector") == sector_name)
        shares = rows.group_by("is_abusive").agg(
            (pl.col("nationality") == rows["nationality"].mode()[0]).mean().alias("top"))
        top = dict(zip(shares["is_abusive"], shares["top"], strict=True))
        assert abs(top[True] - top[False]) < 0.2, sector_name
