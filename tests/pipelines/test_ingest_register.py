"""The register check: the real public register keeps every KvK number exactly, and an
extract's sponsors missing from the register are reported, never dropped."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from ingest_extracts import clean_rows, write_extract
from typer.testing import CliRunner

from cli.main import app
from pipelines.ingest.errors import IngestError
from pipelines.ingest.pipeline import ingest
from pipelines.ingest.register import check_register, load_register


def test_the_public_register_keeps_all_12881_numbers_exactly(ind_register: Path) -> None:
    register = load_register(ind_register)
    # read the numbers straight from the file's text, independent of any JSON parser
    in_file = re.findall(r'"kvk":\s*"([^"]*)"', ind_register.read_text(encoding="utf-8"))
    numbers = register.entries["kvk"].to_list()
    assert [n or "" for n in numbers] == in_file
    findings = check_register(register)
    assert findings.entries == 12_885 and findings.with_kvk == 12_881
    assert findings.kvk_starting_with_zero == 717
    assert len(findings.entries_without_kvk) == 4 and findings.malformed_kvk == []


def test_check_register_only_from_the_command_line(ind_register: Path) -> None:
    result = CliRunner().invoke(app, ["ingest", "--register", str(ind_register),
                                      "--check-register-only", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert (payload["with_kvk"], payload["kvk_starting_with_zero"]) == (12_881, 717)
    assert "Autoriteit Consument en Markt" in payload["entries_without_kvk"]


def _register(path: Path, sponsors: list[dict[str, object]]) -> Path:
    path.write_text(json.dumps({"sponsors": sponsors}), encoding="utf-8")
    return path


def test_extract_sponsors_missing_from_the_register_are_findings(tmp_path: Path) -> None:
    register = _register(tmp_path / "register.json", [
        {"name": "Zon", "kvk": "01234567"}, {"name": "Ærø", "kvk": "12345678"},
        {"name": "Ministry", "kvk": ""}])
    result = ingest(write_extract(tmp_path / "extract", clean_rows()), tmp_path / "warehouse",
                    register_file=register, run_gx=False)
    findings = result.as_dict()["register"]
    assert findings["sponsors_not_on_register"] == 1
    assert findings["sponsors_not_on_register_examples"] == ["23456789"]
    assert findings["entries_without_kvk"] == ["Ministry"]
    assert result.manifest["tables"]["sponsors"]["clean"] == 3  # a finding, not a rejection
    report = (tmp_path / "warehouse" / "reports" / "validation.md").read_text("utf-8")
    assert "1 of 3 sponsors in the extract are not on the register: 23456789" in report


def test_a_register_with_numeric_kvk_numbers_is_refused(tmp_path: Path) -> None:
    register = _register(tmp_path / "register.json", [{"name": "Zon", "kvk": 1234567}])
    with pytest.raises(IngestError, match="register_kvk_is_text"):
        load_register(register)
