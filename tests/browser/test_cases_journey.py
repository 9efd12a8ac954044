"""The case journey in real headless Chromium (issue 18): a lead opens a case from a
plan's RANDOM pick and assigns it; the analyst claims it, requests an inspection and
records VIOLATION, all from the keyboard; a second person with the lead role approves;
``sponsorwatch cases export``, ``ingest`` and training's data assembly then see the label
as RANDOM with its inclusion probability. axe-core checks every case page on the way."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from tests.browser.conftest import LiveServer, sign_in
from tests.browser.test_workspace import axe_blocking, latest_scores


def key_id(server: LiveServer, role: str) -> str:
    return server.keys[role].split("_")[1]


def draw_plan(server: LiveServer) -> pl.DataFrame:
    from training.planning.design import build_inspection_plan, default_plan_id, write_plan

    scores = latest_scores(server)
    day = scores["as_of"][0]
    plan, design = build_inspection_plan(scores, capacity=20, random_share=0.5, seed=11,
                                         plan_id=default_plan_id(day, 11))
    write_plan(plan, design, server.settings.home, day)
    return plan


def sign_out(page: Any) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/sign-in**")


def press(page: Any, locator: Any, key: str = "Enter") -> None:
    locator.focus()
    page.keyboard.press(key)


def test_random_pick_to_approved_violation_to_training_label(
        page: Any, live_server: LiveServer, tmp_path: Path) -> None:
    plan = draw_plan(live_server)
    pick = plan.filter(pl.col("selection") == "RANDOM").sort("plan_position").row(
        0, named=True)
    name = pick["name"] or pick["sponsor_id"]

    sign_in(page, live_server, "lead")
    page.goto(live_server.url("/cases/plan"))
    assert axe_blocking(page) == [], "/cases/plan"
    page.get_by_role("button", name=f"Open a case for {name}").click()
    page.wait_for_url("**done=opened**")
    assert page.locator("#case-selection").inner_text().startswith("random · PLAN-")
    page.get_by_label("Assign to (key id)").fill(key_id(live_server, "analyst"))
    page.get_by_role("button", name="Assign", exact=True).click()
    page.wait_for_url("**done=assign**")
    assert page.locator("#case-assignee").inner_text() == key_id(live_server, "analyst")
    case_url = page.url.split("?")[0]
    sign_out(page)

    sign_in(page, live_server, "analyst")
    page.goto(live_server.url("/cases?view=mine"))
    assert axe_blocking(page) == [], "/cases"
    press(page, page.get_by_role("link", name=name, exact=True))
    page.wait_for_url(case_url)
    press(page, page.get_by_role("button", name="Claim"))
    page.wait_for_url("**done=claim**")
    assert page.locator("#case-status").inner_text() == "In review"
    press(page, page.get_by_role("radio", name="Request an inspection"), "Space")
    press(page, page.get_by_role("button", name="Change status"))
    page.wait_for_url("**done=status**")
    assert page.locator("#case-status").inner_text() == "Inspection requested"
    press(page, page.get_by_role("radio", name="Inspection started"), "Space")
    press(page, page.get_by_role("button", name="Change status"))
    page.wait_for_url("**done=status**")
    page.get_by_label("Outcome", exact=True).select_option("VIOLATION")
    press(page, page.get_by_role("checkbox", name="underpayment"), "Space")
    page.locator("#outcome-note").fill("Paid below the criterion for six months.")
    press(page, page.get_by_role("button", name="Save outcome"))
    page.wait_for_url("**done=outcome**")
    assert page.get_by_role("status").filter(has_text="Waiting for a second person").is_visible()
    assert page.locator("#case-status").inner_text() == "Inspecting"
    assert axe_blocking(page) == [], "case page"
    sign_out(page)

    sign_in(page, live_server, "lead")
    page.goto(live_server.url("/cases?view=approvals"))
    page.get_by_role("link", name=name, exact=True).click()
    page.get_by_role("button", name="Approve").click()
    page.wait_for_url("**done=approve**")
    assert page.locator("#case-status").inner_text() == "Closed"
    assert "violation" in page.locator("#case-outcome").inner_text()
    timeline = page.locator("#timeline li strong").all_inner_texts()
    assert timeline == ["Opened", "Assigned", "Claimed", "Status changed", "Status changed",
                        "Approval requested", "Approved", "Outcome recorded"]
    page.goto(live_server.url("/cases"))
    assert axe_blocking(page) == [], "/cases as lead"

    label = _export_ingest_assemble(live_server, tmp_path, pick["sponsor_id"])
    assert label["label"] == 1 and label["selection"] == "RANDOM"
    assert label["plan_id"] == pick["plan_id"]
    assert label["inclusion_probability"] == pytest.approx(pick["inclusion_probability"])


def _export_ingest_assemble(server: LiveServer, tmp_path: Path, sponsor: str) -> dict:
    from cli.main import app
    from training.fitting.dataset import assemble
    from training.fitting.labels import add_months

    runner = CliRunner()
    extract = tmp_path / "extract"
    extract.mkdir()
    exported = runner.invoke(app, ["--home", str(server.settings.home), "cases", "export",
                                   "--out", str(extract / "inspections.parquet")])
    assert exported.exit_code == 0, exported.output
    home = tmp_path / "home"
    shutil.copytree(server.settings.home, home, ignore=shutil.ignore_patterns("service.db*"))
    ingested = runner.invoke(app, ["--home", str(home), "ingest", str(extract), "--skip-gx"])
    assert ingested.exit_code == 0, ingested.output
    inspections = pl.scan_parquet(home / "warehouse" / "inspections.parquet")
    opened = (inspections.filter(pl.col("sponsor_id") == sponsor)
              .select(pl.col("opened_on").max()).collect().item())
    as_of = date.fromordinal(opened.toordinal() - 1)
    features = pl.LazyFrame({"sponsor_id": [sponsor], "as_of": [as_of], "x": [0.0]})
    data = assemble(features, inspections, ["x"], 12, until=add_months(as_of, 12))
    return data.frame.filter(pl.col("sponsor_id") == sponsor).row(0, named=True)


def test_case_pages_in_dutch_pass_axe(page: Any, live_server: LiveServer) -> None:
    sign_in(page, live_server, "lead")
    page.get_by_label("Language").select_option("nl")
    page.get_by_role("button", name="Switch").click()
    page.goto(live_server.url("/cases?view=open"))
    assert page.get_by_role("heading", level=1).inner_text() == "Zaken"
    assert axe_blocking(page) == [], "/cases (nl)"
    sponsor = latest_scores(live_server).sort("rank")["sponsor_id"][-1]
    page.get_by_label("KvK-nummer").fill(sponsor)
    page.keyboard.press("Enter")
    page.wait_for_url("**done=opened**")
    assert page.get_by_role("heading", level=2, name="Gebeurtenissen").is_visible()
    assert axe_blocking(page) == [], "case page (nl)"
