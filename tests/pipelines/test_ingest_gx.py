"""great-expectations: suites generated from the contract, saved in the repo, and real
validation results that agree with the polars quarantine counts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from ingest_extracts import write_damaged

from pipelines.ingest.gx_suites import SUITES_DIR, render_suite
from pipelines.ingest.gx_worker import (
    SCRATCH_PREFIX,
    GxWorker,
    GxWorkerError,
    remove_stale_scratch,
)
from pipelines.ingest.pipeline import IngestResult, ingest
from sponsorwatch.contract import TABLES
from sponsorwatch.validation import rule_names

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("table", list(TABLES))
def test_saved_suite_is_what_the_contract_generates_now(table: str) -> None:
    saved = (SUITES_DIR / f"{table}.json").read_text(encoding="utf-8")
    assert saved == render_suite(TABLES[table]), (
        f"expectations/{table}.json is stale: run `sponsorwatch ingest-suites`")


@pytest.mark.parametrize("table", list(TABLES))
def test_every_rule_is_validated_by_gx_or_named_as_polars_enforced(table: str) -> None:
    suite = json.loads((SUITES_DIR / f"{table}.json").read_text(encoding="utf-8"))
    covered = {e["meta"]["rule"] for e in suite["expectations"]}
    covered |= set(suite["meta"]["polars_enforced"])
    assert set(rule_names(TABLES[table])) <= covered


@pytest.fixture(scope="module")
def damaged_with_gx(tmp_path_factory: pytest.TempPathFactory) -> tuple[IngestResult, Path]:
    root = tmp_path_factory.mktemp("gx")
    write_damaged(root / "extract")
    return ingest(root / "extract", root / "warehouse", run_gx=True), root / "warehouse"


def test_gx_unexpected_counts_match_the_polars_flags(damaged_with_gx) -> None:
    result, _ = damaged_with_gx
    assert set(result.validations) == set(TABLES)
    for name, validation in result.validations.items():
        assert not any(o.error for o in validation.outcomes), name
        gx = {rule: n for rule, n in validation.unexpected_by_rule().items() if n}
        polars = {rule: n for rule, n in result.checked[name].broken.items()
                  if rule not in validation.polars_enforced}
        assert gx == polars, name
        # no false alarms: an expectation fails only where polars quarantined rows for it
        for o in validation.outcomes:
            if o.kind == "table":  # required columns are there, or polars stopped ingest
                assert o.success, (name, o)
            else:
                assert o.success == (result.checked[name].broken.get(o.rule, 0) == 0
                                     or o.unexpected_count == 0), (name, o)
    # the damage is really seen by GX, not just by polars
    payroll = result.validations["payroll"].unexpected_by_rule()
    assert payroll["gross_wage_parseable"] == 1 and payroll["period_first_of_month"] == 1
    # GX sees every row whose sponsor is unknown: the 4 held and the 1 quarantined
    assert payroll["sponsor_id_known_in_sponsors"] == 5
    assert result.checked["payroll"].held.height == 4
    assert result.validations["sponsors"].success is False


def test_report_and_manifest_sit_next_to_each_other(damaged_with_gx) -> None:
    result, warehouse = damaged_with_gx
    report = (warehouse / "reports" / "validation.md").read_text(encoding="utf-8")
    assert report.count("GX and polars agree on every rule.") == len(TABLES)
    assert "| gross_wage_parseable | expect_column_values_to_not_be_null |" in report
    # the result format is lean, yet a reader still sees which values broke a rule
    assert ("| legal_form_in_set | expect_column_values_to_be_in_set | legal_form | 11 | 1 | 1 "
            "| LTD |") in report
    manifest = json.loads((warehouse / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["validation"]["engine"] == "great_expectations"
    assert manifest["validation"]["gx_unexpected_by_rule"]["permits"]["scheme_in_set"] == 1
    results = json.loads((warehouse / "reports" / "gx_results.json").read_text("utf-8"))
    assert results["payroll"]["success"] is False


def test_no_report_shows_a_nationality(damaged_with_gx) -> None:
    _, warehouse = damaged_with_gx
    report = (warehouse / "reports" / "validation.md").read_text(encoding="utf-8")
    line = next(x for x in report.splitlines() if x.startswith("| nationality_format |"))
    assert line.endswith("| 1 | 1 |  |")  # counted, no example value
    assert '"ind"' not in (warehouse / "reports" / "gx_results.json").read_text("utf-8")


def test_gx_seconds_are_reported_as_wall_and_cpu(damaged_with_gx) -> None:
    result, warehouse = damaged_with_gx
    assert not list(warehouse.parent.glob(".gx-frames-*"))  # the frames handed over are gone
    seconds = result.seconds
    # GX ran in its own process, import included; the wall it adds is the wait after
    # polars' work, which cannot exceed the whole
    assert 0 < seconds["great_expectations_import_cpu"] < seconds["great_expectations_cpu"]
    assert seconds["great_expectations_import"] > 0
    assert 0 <= seconds["great_expectations"] < seconds["total"]


def test_the_ingest_process_never_imports_great_expectations(tmp_path: Path) -> None:
    code = ("import sys; from pathlib import Path; from pipelines.ingest.pipeline import ingest\n"
            "if __name__ == '__main__':\n"
            "    ingest(Path(sys.argv[1]), Path(sys.argv[2]), run_gx=True)\n"
            "    assert 'great_expectations' not in sys.modules, 'GX imported in the parent'\n")
    script = tmp_path / "run.py"
    script.write_text(code, encoding="utf-8")
    write_damaged(tmp_path / "extract")
    subprocess.run([sys.executable, str(script), str(tmp_path / "extract"),
                    str(tmp_path / "warehouse")], check=True, cwd=ROOT)
    assert (tmp_path / "warehouse" / "reports" / "gx_results.json").exists()


def _ingest_twice(tmp_path: Path) -> Path:
    """A good warehouse from one ingest, and the extract for the next."""
    write_damaged(tmp_path / "extract")
    ingest(tmp_path / "extract", tmp_path / "warehouse", run_gx=False)
    return tmp_path / "warehouse"


def test_a_dead_gx_worker_stops_ingest_and_keeps_the_previous_warehouse(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    warehouse = _ingest_twice(tmp_path)
    before = (warehouse / "manifest.json").read_bytes()
    wait_for_results = GxWorker.results

    def killed_first(self: GxWorker, on_table: object = None) -> object:
        os.kill(self.pid, signal.SIGKILL)  # as the kernel's OOM killer would
        return wait_for_results(self, on_table)

    monkeypatch.setattr(GxWorker, "results", killed_first)
    with pytest.raises(GxWorkerError, match="ended without answering"):
        ingest(tmp_path / "extract", warehouse, run_gx=True)
    assert (warehouse / "manifest.json").read_bytes() == before
    assert not list(tmp_path.glob(".gx-frames-*"))  # the frames handed over are gone


def test_the_worker_validates_for_real_and_raises_what_raises_in_it() -> None:
    frame = pl.DataFrame({"sponsor_id": ["01234567"]})
    with GxWorker() as worker:
        worker.submit(TABLES["sponsors"], frame)
        sponsors = worker.results().validations["sponsors"]
        required = [o for o in sponsors.outcomes if o.rule == "required_column_present"]
        assert [o.success for o in required] == [False]  # name, founded_on, ... missing
        worker.submit(TABLES["sponsors"], frame)  # a second suite of the same name
        with pytest.raises(GxWorkerError, match=r"sponsors: Traceback"):
            worker.results()


def test_scratch_left_by_a_killed_ingest_is_removed_and_a_live_ones_kept(
        tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    stale = tmp_path / f"{SCRATCH_PREFIX}{dead}-abc"
    live = tmp_path / f"{SCRATCH_PREFIX}{os.getpid()}-def"
    for folder in (stale, live):
        folder.mkdir()
        (folder / "payroll.arrow").write_bytes(b"frame")
    assert remove_stale_scratch(tmp_path) == [stale]
    assert not stale.exists() and live.exists()
