"""The case workflow on SQLite and PostgreSQL (issue 18): four-eyes, the queue's order,
the append-only event log, the migration of reviews and the export as contract
inspections."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from serving.cases import workflow as wf
from serving.cases.export import cases_inspections
from serving.cases.migrate import migrate_reviews
from serving.cases.models import AppendOnly, Case, CaseEvent
from serving.cases.plans import plan_picks
from serving.cases.queue import queue_page
from serving.keys import Caller, Role
from serving.reviews import add_review, export_inspections, record_outcome
from sponsorwatch.contract import INSPECTIONS
from sponsorwatch.settings import Settings

ANALYST = Caller("analyst1", Role.ANALYST)
OTHER_ANALYST = Caller("analyst2", Role.ANALYST)
LEAD = Caller("lead1", Role.LEAD)
SECOND_LEAD = Caller("lead2", Role.LEAD)
SYSTEM = Caller("system1", Role.CASE_SYSTEM)
PICK = {"selection": "RANDOM", "plan_id": "PLAN-2026-11-01-7",
        "inclusion_probability": 0.0125}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", case_analyst_cap=3)


def _inspecting(session: Session, settings: Settings, sponsor: str = "12345678",
                pick: dict | None = None) -> Case:
    case = wf.open_case(session, settings, LEAD, sponsor, "plan" if pick else "ranking",
                        pick=pick)
    wf.assign(session, settings, LEAD, [case.case_id], ANALYST.key_id)
    wf.claim(session, settings, ANALYST, case.case_id)
    wf.transition(session, settings, ANALYST, case.case_id, "inspection_requested")
    wf.transition(session, settings, ANALYST, case.case_id, "inspecting")
    return case


def test_nobody_approves_their_own_violation(db_engine: Engine, settings: Settings) -> None:
    with Session(db_engine) as session:
        case = _inspecting(session, settings)
        wf.record_outcome(session, settings, ANALYST, case.case_id, "VIOLATION", None,
                          ["UNDERPAYMENT"], 2500.0, "paid below the criterion")
        assert case.status == "inspecting" and case.pending_change()["by"] == ANALYST.key_id
        with pytest.raises(wf.CaseForbidden):  # an analyst is no lead
            wf.approve(session, settings, OTHER_ANALYST, case.case_id)
        # A lead records a violation on a case of their own: a second lead must approve.
        own = _inspecting(session, settings, "23456789")
        wf.record_outcome(session, settings, LEAD, own.case_id, "VIOLATION", None, [], None)
        with pytest.raises(wf.CaseForbidden, match="nobody approves their own") as refused:
            wf.approve(session, settings, LEAD, own.case_id)
        assert refused.value.status == 403
        assert session.get(Case, own.case_id).status == "inspecting"
        wf.approve(session, settings, SECOND_LEAD, own.case_id)
        approved = wf.approve(session, settings, LEAD, case.case_id, "seen the payslips")
        assert approved.status == "closed" and approved.outcome == "VIOLATION"
        kinds = [e.kind for e in wf.events_of(session, case.case_id)]
        assert kinds[-3:] == ["approval_requested", "approved", "outcome"]
        outcome = wf.events_of(session, case.case_id)[-1]
        assert outcome.actor == ANALYST.key_id
        assert outcome.after_dict()["approved_by"] == LEAD.key_id


def test_dismissing_a_top_decile_sponsor_needs_a_second_lead(db_engine: Engine,
                                                            settings: Settings) -> None:
    with Session(db_engine) as session:
        top = wf.open_case(session, settings, ANALYST, "12345678", "sponsor", top_decile=True)
        low = wf.open_case(session, settings, ANALYST, "87654321", "sponsor")
        for case in (top, low):
            wf.claim(session, settings, ANALYST, case.case_id)
            with pytest.raises(wf.CaseInvalid, match="reason"):
                wf.transition(session, settings, ANALYST, case.case_id, "dismissed")
            wf.transition(session, settings, ANALYST, case.case_id, "dismissed",
                          "KNOWN_EMPLOYER")
        assert low.status == "dismissed" and low.dismissal_reason == "KNOWN_EMPLOYER"
        assert top.status == "in_review" and top.pending is not None
        wf.reject(session, settings, LEAD, top.case_id, "look at the wages first")
        assert top.status == "in_review" and top.pending is None


def test_queue_puts_overdue_first(db_engine: Engine, settings: Settings) -> None:
    today = date(2026, 12, 1)
    with Session(db_engine) as session:
        due = {}
        for i, days in enumerate([5, -3, 0, -10, 20, -1]):
            case = wf.open_case(session, settings, LEAD, f"1000000{i}", "ranking",
                                today=today)
            case.due_on = today + timedelta(days=days)
            due[case.case_id] = case.due_on
        closed_late = wf.open_case(session, settings, LEAD, "19999999", "ranking", today=today)
        closed_late.due_on = today - timedelta(days=30)
        closed_late.status = "dismissed"
        session.commit()
        page = queue_page(session, "nobody", "open", today)
        order = [c.due_on for c in page.cases]
        assert order == sorted(due.values(), key=lambda d: (d >= today, d))
        assert order[:3] == [today - timedelta(days=10), today - timedelta(days=3),
                             today - timedelta(days=1)]
        assert page.overdue == 3 and page.counts["unassigned"] == 6
        assert page.counts["finished"] == 1
        wf.assign(session, settings, LEAD, [page.cases[-1].case_id], ANALYST.key_id)
        mine = queue_page(session, ANALYST.key_id, "mine", today)
        assert [c.case_id for c in mine.cases] == [page.cases[-1].case_id]


def test_an_outcome_corrected_twice_keeps_three_events(db_engine: Engine,
                                                       settings: Settings) -> None:
    with Session(db_engine) as session:
        case = _inspecting(session, settings, pick=PICK)
        wf.record_outcome(session, settings, ANALYST, case.case_id, "NO_VIOLATION", None, [],
                          None, "nothing found")
        wf.record_outcome(session, settings, ANALYST, case.case_id, "INCONCLUSIVE", None,
                          ["ADMINISTRATION_FAILURE"], None, "after objection")
        wf.record_outcome(session, settings, ANALYST, case.case_id, "NO_VIOLATION", None, [],
                          None, "after appeal")
        outcomes = [e for e in wf.events_of(session, case.case_id) if e.kind == "outcome"]
        assert [e.after_dict()["outcome"] for e in outcomes] == [
            "NO_VIOLATION", "INCONCLUSIVE", "NO_VIOLATION"]
        assert [e.before_dict()["outcome"] for e in outcomes] == [
            None, "NO_VIOLATION", "INCONCLUSIVE"]
        assert [e.note for e in outcomes] == ["nothing found", "after objection",
                                              "after appeal"]
        first = outcomes[0]
        first.note = "rewritten"
        with pytest.raises(AppendOnly):
            session.commit()
        session.rollback()
        session.delete(session.get(CaseEvent, first.id))
        with pytest.raises(AppendOnly):
            session.commit()
        session.rollback()
        assert session.get(CaseEvent, first.id).note == "nothing found"


def test_every_status_change_is_in_the_event_log(db_engine: Engine,
                                                 settings: Settings) -> None:
    with Session(db_engine) as session:
        case = _inspecting(session, settings, pick=PICK)
        wf.add_note(session, ANALYST, case.case_id, "called the employer")
        wf.record_outcome(session, settings, SYSTEM, case.case_id, "VIOLATION", None,
                          ["NO_GENUINE_JOB"], None)
        wf.approve(session, settings, LEAD, case.case_id)
        seen = ["new"]  # the opening event
        for event in wf.events_of(session, case.case_id)[1:]:
            before, after = event.before_dict(), event.after_dict()
            if "status" in after:
                assert before["status"] == seen[-1], event.kind
                seen.append(after["status"])
        assert seen == ["new", "in_review", "inspection_requested", "inspecting", "closed"]
        assert seen[-1] == case.status
        assert wf.events_of(session, case.case_id)[0].after_dict()["status"] == "new"
        notes = [e for e in wf.events_of(session, case.case_id) if e.kind == "note"]
        assert notes[0].note == "called the employer" and notes[0].actor == ANALYST.key_id


def test_claims_assignment_and_the_cap(db_engine: Engine, settings: Settings) -> None:
    with Session(db_engine) as session:
        cases = [wf.open_case(session, settings, LEAD, f"2000000{i}", "ranking")
                 for i in range(5)]
        ids = [c.case_id for c in cases]
        with pytest.raises(wf.CaseForbidden):
            wf.assign(session, settings, ANALYST, ids[:1], ANALYST.key_id)
        with pytest.raises(wf.CaseConflict, match="cap of 3"):
            wf.assign(session, settings, LEAD, ids[:4], ANALYST.key_id)
        assert all(session.get(Case, i).assignee is None for i in ids)  # all or none
        wf.assign(session, settings, LEAD, ids[:3], ANALYST.key_id)
        with pytest.raises(wf.CaseConflict, match="cap"):
            wf.claim(session, settings, ANALYST, ids[3])
        with pytest.raises(wf.CaseConflict, match="assigned to analyst1"):
            wf.claim(session, settings, OTHER_ANALYST, ids[0])
        with pytest.raises(wf.CaseForbidden, match="claim it first"):
            wf.transition(session, settings, OTHER_ANALYST, ids[0], "inspection_requested")
        wf.release(session, settings, ANALYST, ids[0])
        wf.claim(session, settings, OTHER_ANALYST, ids[0])
        assert session.get(Case, ids[0]).assignee == OTHER_ANALYST.key_id
        with pytest.raises(wf.CaseConflict, match="already has open case"):
            wf.open_case(session, settings, ANALYST, "20000000", "sponsor")
        with pytest.raises(wf.CaseInvalid, match="RANDOM"):
            wf.open_case(session, settings, SYSTEM, "30000000", "case-system",
                         selection="RANDOM")


def _write_plan(home: Path, as_of: date, sponsor: str) -> None:
    folder = home / "plans" / f"as_of={as_of.isoformat()}"
    folder.mkdir(parents=True)
    pl.DataFrame({"sponsor_id": [sponsor, "99999999"], "plan_position": [2, 1],
                  "plan_id": [PICK["plan_id"]] * 2, "selection": ["RANDOM", "RISK_BASED"],
                  "inclusion_probability": [PICK["inclusion_probability"], 1.0]}
                 ).write_parquet(folder / "plan.parquet")


def test_reviews_become_cases_once_and_random_picks_stay_random(
        db_engine: Engine, settings: Settings, tmp_path: Path) -> None:
    _write_plan(settings.home, date(2025, 2, 1), "12345678")
    with Session(db_engine) as session:
        picked = add_review(session, "12345678", "inspect", "random pick", "k1",
                            date(2025, 3, 1), "4", 0.2, date(2025, 2, 1))
        chosen = add_review(session, "87654321", "inspect", "", "k1", date(2025, 3, 1),
                            "4", 0.9, date(2025, 2, 1))
        add_review(session, "11112222", "dismiss", "university", "k2", date(2025, 3, 2),
                   "4", 0.6, date(2025, 2, 1))
        record_outcome(session, picked.review_id, "VIOLATION", date(2025, 5, 1),
                       ["UNDERPAYMENT"], 3000.0, "confirmed", "k3")
        assert export_inspections(session, tmp_path / "reviews.parquet",
                                  plan_picks(settings.home)) == 2
        assert migrate_reviews(session, settings) == 3
        assert migrate_reviews(session, settings) == 0
        cases = {c.review_id: c for c in session.scalars(select(Case))}
        assert cases[picked.review_id].status == "closed"
        assert cases[chosen.review_id].status == "inspection_requested"
        assert len(cases) == 3
        frame = cases_inspections(session)
    reviews = pl.read_parquet(tmp_path / "reviews.parquet")
    assert reviews.schema == INSPECTIONS.schema == frame.schema
    for exported in (reviews, frame):
        random = exported.filter(pl.col("inspection_id") == f"REV-{picked.review_id}")
        last = random.sort("recorded_on").row(-1, named=True)
        assert (last["selection"], last["plan_id"], last["inclusion_probability"]) == (
            "RANDOM", PICK["plan_id"], PICK["inclusion_probability"])
        assert last["outcome"] == "VIOLATION" and last["closed_on"] == date(2025, 5, 1)
        other = exported.filter(pl.col("inspection_id") == f"REV-{chosen.review_id}")
        assert other["selection"].to_list() == ["RISK_BASED"] * other.height
        assert other["plan_id"].null_count() == other.height


def test_export_has_a_version_per_outcome_day(db_engine: Engine, settings: Settings) -> None:
    with Session(db_engine) as session:
        case = _inspecting(session, settings, pick=PICK)
        opened = case.inspection_opened_on
        assert cases_inspections(session)["outcome"].to_list() == ["OPEN"]
        wf.record_outcome(session, settings, ANALYST, case.case_id, "NO_VIOLATION", None, [],
                          None)
        first = [e for e in wf.events_of(session, case.case_id) if e.kind == "outcome"][0]
        later = CaseEvent(case_id=case.case_id, at=first.at + timedelta(days=40),
                          actor=LEAD.key_id, actor_role="lead", kind="outcome", before="{}",
                          after=json.dumps({"outcome": "VIOLATION",
                                            "closed_on": opened.isoformat(),
                                            "findings": json.dumps(["UNDERPAYMENT"]),
                                            "fine_eur": 100.0}))
        session.add(later)
        session.commit()
        frame = cases_inspections(session).sort("recorded_on")
    assert frame["outcome"].to_list() == ["NO_VIOLATION", "VIOLATION"]  # OPEN replaced that day
    assert frame["recorded_on"].to_list() == [opened, opened + timedelta(days=40)]
    assert set(frame["selection"]) == {"RANDOM"}
    assert frame["findings"].to_list()[-1] == ["UNDERPAYMENT"]
