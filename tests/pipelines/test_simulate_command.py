"""The ``sponsorwatch simulate`` command, atomic replacement, and the calibration report."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from cli.main import app
from pipelines.simulate import output, write_world


def test_command_writes_a_world_and_prints_the_report(tmp_path: Path) -> None:
    out = tmp_path / "world"
    result = CliRunner().invoke(app, ["--home", str(tmp_path / "home"), "simulate",
                                      "--out", str(out), "--sponsors", "80", "--seed", "3",
                                      "--start", "2020-01-01", "--end", "2023-12-31",
                                      "--report"])
    assert result.exit_code == 0, result.output
    assert "Calibration of the simulated world" in result.output
    payroll = pl.read_parquet(out / "payroll" / "*.parquet")
    assert str(payroll["period"].min()) >= "2020-01-01"
    assert str(payroll["filed_on"].max()) <= "2023-12-31"
    # One row per version of a sponsor's record (contract version 2).
    assert pl.read_parquet(out / "sponsors.parquet")["sponsor_id"].n_unique() == 80


def test_command_refuses_an_end_before_the_start(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["simulate", "--out", str(tmp_path / "w"),
                                      "--start", "2024-01-01", "--end", "2023-01-01"])
    assert result.exit_code != 0
    assert "--end" in result.output
    assert not (tmp_path / "w").exists()


def test_a_crashed_write_leaves_the_previous_world(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "world"
    write_world(out, 40, seed=1)
    before = {p.name: p.read_bytes() for p in out.glob("*.parquet")}

    def crash(*args: object, **kwargs: object) -> None:
        kwargs["on_chunk"]("payroll", 0, pl.DataFrame({"x": [1]}))  # type: ignore[operator]
        raise RuntimeError("disk full")

    monkeypatch.setattr(output, "generate_world", crash)
    with pytest.raises(RuntimeError, match="disk full"):
        write_world(out, 40, seed=2)
    assert {p.name: p.read_bytes() for p in out.glob("*.parquet")} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["world"]


def test_calibration_report_sets_the_world_beside_public_figures(small_world: Path) -> None:
    report = json.loads((small_world / "calibration.json").read_text(encoding="utf-8"))
    figures = {row["figure"]: row for row in report["comparisons"]}
    assert "permit applications, 2023" in figures
    assert figures["share of granted permits in ict"]["public"] == 0.23
    rates = report["inspections_by_selection"]
    assert rates["RANDOM"]["hit_rate"] < rates["RISK_BASED"]["hit_rate"]
    assert 0 < report["truth"]["abusing_share_by_day"] < 0.2
    assert report["row_counts"]["payroll"] == pl.read_parquet(
        small_world / "payroll" / "*.parquet").height
    text = (small_world / "calibration.md").read_text(encoding="utf-8")
    assert "| hit rate, RISK_BASED inspections |" in text
    assert "## Abuse typologies as declared" in text
