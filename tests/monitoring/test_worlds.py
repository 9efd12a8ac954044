"""The acceptance of issue 19 on small simulated worlds: a change injected on 2024-01-01 (the
salary criterion's yearly step missing, hiring in one sector stopping, payroll hours
delivered empty) alerts in the first monthly snapshot after it, 2024-01-31; five worlds
without a change give no alert over 24 monthly snapshots. The 12,000-sponsor version is
``benchmarks/bench_monitor.py``."""

from __future__ import annotations

import datetime as dt

import pytest
from monitor_worlds import (
    CHANGES,
    FIRST_AFTER_CHANGE,
    MONITOR_DATES,
    run_monitor,
    world_snapshots,
)

#: Small enough for the tests; the sector shock needs enough applications a month for one
#: month's silence to be significant (about 14 of ICT's expected in a 1,200-sponsor world).
QUIET_SPONSORS = 300
CHANGED_SPONSORS = 1200
SEEDS = (1, 2, 3, 4, 5)
#: What each change should trip in its first snapshot.
EXPECTED_CHECK = {"threshold_step": "thresholds", "sector_shock": "sector_mix",
                  "payroll_empty": "input_empty"}


@pytest.mark.parametrize("seed", SEEDS)
def test_no_alert_over_24_months_without_a_change(seed: int) -> None:
    features, tables, thresholds = world_snapshots(QUIET_SPONSORS, seed, None)
    reports = run_monitor(features, tables, thresholds)
    assert [r["as_of"] for r in reports] == [str(d) for d in MONITOR_DATES]
    alerts = [(r["as_of"], a["check"], a["subject"], a["value"]) for r in reports
              for a in r["alerts"] if a["severity"] == "alert"]
    assert alerts == []


@pytest.fixture(scope="module")
def changed_reports() -> dict[str | None, list[dict]]:
    """Reports of 2023-12-31 and 2024-01-31 for the same world with each change, and none.
    2023-11-30 is a warm-up, left out: its report would compare it with the reference
    window's last snapshot, a year before, not with the month before."""
    days = [dt.date(2023, 11, 30), dt.date(2023, 12, 31), FIRST_AFTER_CHANGE]
    out: dict[str | None, list[dict]] = {}
    for change in (None, *CHANGES):
        out[change] = run_monitor(*world_snapshots(CHANGED_SPONSORS, 7, change, days))[1:]
    return out


@pytest.mark.parametrize("change", CHANGES)
def test_a_change_alerts_in_the_first_snapshot_after_it(
        changed_reports: dict[str | None, list[dict]], change: str) -> None:
    before, after = changed_reports[change]
    assert before["as_of"] == "2023-12-31" and before["status"] == "ok", before["alerts"]
    assert after["as_of"] == str(FIRST_AFTER_CHANGE) and after["status"] == "alert"
    tripped = {a["check"] for a in after["alerts"] if a["severity"] == "alert"}
    assert EXPECTED_CHECK[change] in tripped, after["alerts"]


def test_the_same_world_without_the_change_does_not_alert(
        changed_reports: dict[str | None, list[dict]]) -> None:
    assert [r["status"] for r in changed_reports[None]] == ["ok", "ok"]


def test_what_the_alerts_name(changed_reports: dict[str | None, list[dict]]) -> None:
    after = {change: reports[1] for change, reports in changed_reports.items()}
    by_check = {c: [a for a in after[c]["alerts"] if a["severity"] == "alert"] for c in CHANGES}
    assert by_check["threshold_step"][0]["subject"] == (
        "EU_BLUE_CARD, KM_REDUCED, KM_REGULAR, KM_UNDER_30")
    assert any(a["subject"] == "J information and communication" and a["value"] == 0
               for a in by_check["sector_shock"])
    assert any(a["subject"] == "payroll.hours_paid" and a["value"] == 1.0
               for a in by_check["payroll_empty"])
