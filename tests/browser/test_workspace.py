"""The analyst workspace end to end in real headless Chromium: sign in, filter, open a
sponsor, read its reasons and wage chart, record a review, export and read back, sign out;
an automated accessibility check (axe-core from the axe-playwright-python package);
keyboard use and 200% zoom."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import polars as pl
from openpyxl import load_workbook

from tests.browser.conftest import LiveServer, sign_in
from training.fitting.scoring import score_dates

BLOCKING_IMPACTS = ("serious", "critical")


def latest_scores(server: LiveServer) -> pl.DataFrame:
    day = score_dates(server.settings.scores_dir)[-1]
    return pl.read_parquet(server.settings.scores_dir / f"as_of={day}" / "scores.parquet")


def listed_ids(page: Any) -> list[str]:
    return page.locator("table.ranking tbody tr td:nth-child(3)").all_inner_texts()


def with_recent_payroll(server: LiveServer, candidates: pl.DataFrame) -> str:
    """The best-ranked candidate with migrant payroll in the 24 months before the
    snapshot (so its wage chart has lines to draw)."""
    as_of = candidates["as_of"][0]
    paid = (pl.scan_parquet(server.settings.warehouse_dir / "payroll.parquet")
            .filter((pl.col("filed_on") <= as_of)
                    & (pl.col("period") >= pl.lit(as_of).dt.offset_by("-23mo")))
            .select("sponsor_id").unique().collect()["sponsor_id"])
    ranked = candidates.filter(pl.col("sponsor_id").is_in(paid.implode())).sort("rank")
    assert ranked.height, "no candidate has recent payroll in the small world"
    return ranked["sponsor_id"][0]


def test_a_page_without_session_redirects_to_sign_in(page: Any,
                                                      live_server: LiveServer) -> None:
    page.goto(live_server.url("/sponsors?band=high"))
    assert "/sign-in?next=/sponsors" in page.url
    assert page.get_by_label("Analyst key").is_visible()


def test_analyst_journey(page: Any, live_server: LiveServer, tmp_path: Any) -> None:
    scores = latest_scores(live_server)
    sign_in(page, live_server)

    page.get_by_label("Band").select_option("high")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**band=high**")
    high = scores.filter(pl.col("band") == "high").sort("rank")
    assert page.locator("#result-count").inner_text().startswith(f"{high.height} sponsors")
    assert listed_ids(page) == high["sponsor_id"].head(50).to_list()

    first = high.filter(pl.col("sponsor_id") == with_recent_payroll(live_server, high.head(50))
                        ).row(0, named=True)
    page.get_by_role("link", name=first["name"], exact=True).first.click()
    page.wait_for_url(f"**/sponsors/{first['sponsor_id']}")
    reasons = page.locator("table.reasons tbody tr")
    assert reasons.count() == len(first["reasons"])
    assert first["reasons"][0]["description"] in reasons.first.inner_text()
    assert "sponsors with this score were found in violation" in page.locator(
        ".meaning").inner_text()
    wage_chart = page.locator("svg[aria-labelledby='wages-title wages-desc']")
    assert wage_chart.is_visible()
    assert wage_chart.locator("path.line.criterion").count() >= 1  # the salary criterion
    assert wage_chart.locator("path.line:not(.criterion)").count() >= 1  # migrants' wages

    page.get_by_role("radio", name="Inspect").check()
    page.get_by_label("Note", exact=True).fill("Wages sit at the criterion; inspect.")
    page.get_by_role("button", name="Record review").click()
    page.wait_for_url("**saved=review**")
    assert page.get_by_role("status").filter(has_text="Review recorded.").is_visible()
    assert "Wages sit at the criterion; inspect." in page.locator("table.reviews").inner_text()

    page.goto(live_server.url("/sponsors?band=high&reviewed=yes"))
    assert listed_ids(page) == [first["sponsor_id"]]

    page.goto(live_server.url("/sponsors?band=high"))
    with page.expect_download() as csv_download:
        page.get_by_role("link", name="CSV").click()
    csv_path = tmp_path / "ranking.csv"
    csv_download.value.save_as(csv_path)
    rows = list(csv.DictReader(io.StringIO(csv_path.read_text(encoding="utf-8-sig"))))
    assert [r["sponsor_id"] for r in rows] == high["sponsor_id"].to_list()
    [reviewed_row] = [r for r in rows if r["sponsor_id"] == first["sponsor_id"]]
    assert reviewed_row["last_review"] == "inspect" and reviewed_row["reason_1"]

    with page.expect_download() as xlsx_download:
        page.get_by_role("link", name="Excel (xlsx)").click()
    xlsx_path = tmp_path / "ranking.xlsx"
    xlsx_download.value.save_as(xlsx_path)
    sheet = list(load_workbook(xlsx_path, read_only=True)["ranking"].iter_rows(values_only=True))
    header = sheet[0]
    assert [r[header.index("sponsor_id")] for r in sheet[1:]] == high["sponsor_id"].to_list()
    assert sheet[1][header.index("reason_1")] == rows[0]["reason_1"]

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/sign-in**")
    assert page.get_by_text("You have signed out.").is_visible()
    page.goto(live_server.url(f"/sponsors/{first['sponsor_id']}"))
    assert "/sign-in?next=" in page.url


def axe_blocking(page: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [f"{v['id']} ({v['impact']}): {v['help']} at "
            f"{[n['target'] for n in v['nodes']][:3]}"
            for v in results.response["violations"] if v["impact"] in BLOCKING_IMPACTS]


def test_no_serious_accessibility_violations(page: Any, live_server: LiveServer) -> None:
    page.set_content('<html lang="en"><title>x</title><main><input type="text"></main></html>')
    assert any(v.startswith("label ") for v in axe_blocking(page)), "axe found nothing to find"
    page.goto(live_server.url("/sign-in"))
    assert axe_blocking(page) == []
    sign_in(page, live_server)
    sponsor = latest_scores(live_server).sort("rank")["sponsor_id"][0]
    for path in ("/sponsors", "/sponsors?band=elevated&sort=name&order=desc",
                 f"/sponsors/{sponsor}", "/model"):
        page.goto(live_server.url(path))
        assert axe_blocking(page) == [], path


def test_keyboard_only_use(page: Any, live_server: LiveServer) -> None:
    sign_in(page, live_server)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "f-q"
    name = latest_scores(live_server).sort("rank")["name"][0]
    page.keyboard.type(name)
    page.keyboard.press("Enter")
    page.wait_for_url("**q=**")
    link = page.get_by_role("link", name=name, exact=True).first
    link.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/sponsors/[0-9]{8}$"))
    page.get_by_role("radio", name="Dismiss").focus()
    page.keyboard.press("Space")
    assert page.get_by_role("radio", name="Dismiss").is_checked()


def test_readable_at_200_percent_zoom(page: Any, live_server: LiveServer) -> None:
    """A 1280-pixel screen at 200% zoom lays pages out in 640 CSS pixels: nothing may
    need sideways scrolling of the page (wide tables scroll inside their own box)."""
    sign_in(page, live_server)
    page.set_viewport_size({"width": 640, "height": 900})
    sponsor = latest_scores(live_server).sort("rank")["sponsor_id"][0]
    for path in ("/sponsors", f"/sponsors/{sponsor}", "/model"):
        page.goto(live_server.url(path))
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 1, (path, overflow)
        assert page.get_by_role("heading", level=1).is_visible()
