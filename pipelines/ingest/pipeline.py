"""``sponsorwatch ingest``: read an extract, check every row (clean, held or
quarantined), validate with great-expectations, merge into the warehouse and publish it
as a new version.

One ingest at a time per warehouse (:mod:`.lock`). The warehouse path is a symlink to a
version folder, replaced atomically (:func:`sponsorwatch.storage.versioned_directory`):
readers always open one complete warehouse, and a crash at any step leaves the previous
one in place. Checking and merging: :mod:`.merge`.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from sponsorwatch.contract import CONTRACT_VERSION, TABLES
from sponsorwatch.storage import crash_point, open_versioned, read_manifest, versioned_directory

from . import held
from .errors import IngestError
from .gx_suites import gx_frame
from .gx_validation import TableValidation
from .gx_worker import GxOutcome, GxWorker
from .lock import warehouse_lock
from .merge import Checked, StepCallback, check_all, tick
from .read import RawTable, read_table
from .register import RegisterFindings, check_extract_against_register, load_register
from .report import render_report
from .rules import CheckedTable
from .warehouse import MANIFEST, REPORT, read_clean, write_tables, write_texts

#: The steps of an ingest a test may kill it after (``SPONSORWATCH_TEST_CRASH_AFTER_STEP``,
#: see :func:`sponsorwatch.storage.crash_point`), in order: read and checked here, the
#: others in the warehouse swap.
CRASH_STEPS = ("read", "checked", "staged", "numbered", "linked", "swapped", "pruned")


@dataclass
class IngestResult:
    """What one ingest run did; ``as_dict()`` is the ``--json`` output."""

    manifest: dict[str, Any]
    checked: dict[str, CheckedTable] = field(default_factory=dict)
    validations: dict[str, Any] = field(default_factory=dict)
    register: RegisterFindings | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {key: self.manifest[key] for key in (
                    "extract", "warehouse", "warehouse_version", "tables", "rules_broken",
                    "warnings", "held", "knowledge_time", "validation")} | {
                "register": self.register.as_dict() if self.register else None,
                "seconds": self.seconds}


def step_count(run_gx: bool) -> int:
    return len(TABLES) * (3 if run_gx else 2) + (2 if run_gx else 1)


def _read_all(extract_dir: Path, warehouse: Path | None,
              on_step: StepCallback | None) -> dict[str, RawTable]:
    raws: dict[str, RawTable] = {}
    for table in TABLES.values():
        tick(on_step, f"reading {table.name}")
        raw = read_table(extract_dir, table)
        if raw is None and not table.optional and read_clean(warehouse, table) is None:
            raise IngestError(f"{table.name}.parquet|{table.name}/|{table.name}.csv", None,
                              "table_present", f"{table.name} is not in the extract and not in "
                              "the warehouse yet")
        if raw is not None:
            raws[table.name] = raw
    return raws


#: ``seconds`` keys of the GX work, zero where GX did not run.
GX_SECONDS = ("great_expectations", "great_expectations_frames", "great_expectations_import",
              "great_expectations_import_cpu", "great_expectations_cpu")


def _submit_to_gx(worker: GxWorker, checked: Checked) -> None:
    for checked_table in checked.tables.values():
        worker.submit(checked_table.table,
                      gx_frame(checked_table.table, checked_table.parsed, checked.known))


def _gx_results(worker: GxWorker, on_step: StepCallback | None) -> GxOutcome:
    tick(on_step, "great-expectations: validating")
    return worker.results(
        on_table=lambda name: tick(on_step, f"great-expectations: {name} validated"))


def ingest(extract_dir: Path, warehouse_dir: Path, *, register_file: Path | None = None,
           run_gx: bool = True, on_step: StepCallback | None = None,
           now: dt.datetime | None = None) -> IngestResult:
    """Ingest the extract in ``extract_dir`` into ``warehouse_dir``.

    GX runs in a worker process (:class:`GxWorker`): it imports while polars reads and
    checks, and validates while polars writes; the warehouse is swapped in once both are
    done. ``seconds["great_expectations"]`` is what GX adds to the wall clock: the wait
    for its results after polars' own work.

    Raises:
        IngestError: a table-level problem (missing required column or table, unreadable
            file, unconvertible type, a column none of whose values parses, unreadable
            register); the warehouse is left as it was.
        GxWorkerError: great-expectations failed; the warehouse is left as it was.
    """
    clock = {"start": time.perf_counter()}
    if not extract_dir.is_dir():
        raise IngestError(str(extract_dir), None, "extract_is_folder",
                          "the extract must be a folder of <table>.parquet/.csv files")
    register = load_register(register_file) if register_file else None
    with ExitStack() as stack:
        stack.enter_context(warehouse_lock(warehouse_dir))
        current = open_versioned(warehouse_dir)  # the version this ingest builds on
        # scratch beside the warehouse: /tmp may be memory, and payroll's frame is large
        worker = stack.enter_context(GxWorker(_scratch_parent(warehouse_dir))) if run_gx else None
        raws = _read_all(extract_dir, current, on_step)
        clock["read"] = time.perf_counter()
        crash_point("read")
        checked = check_all(raws, current, extract_dir.resolve().name, on_step)
        clock["check"] = time.perf_counter()
        crash_point("checked")
        if worker is not None:
            _submit_to_gx(worker, checked)
        clock["frames"] = time.perf_counter()
        findings = (check_extract_against_register(register, _sponsor_ids(raws))
                    if register is not None and "sponsors" in raws else None)
        with versioned_directory(warehouse_dir) as staging:
            tick(on_step, "writing warehouse")
            clock["before_write"] = time.perf_counter()
            write_tables(staging.path, checked.clean, raw={n: r.frame for n, r in raws.items()},
                         quarantine=checked.quarantine, held=checked.held)
            clock["write"] = time.perf_counter()
            gx = (_gx_results(worker, on_step) if worker is not None and checked.tables
                  else GxOutcome())
            clock["great_expectations"] = time.perf_counter()
            manifest = _manifest(extract_dir, warehouse_dir, current, staging.version, raws,
                                 checked, gx.validations, findings, now)
            _write_reports(staging.path, manifest, checked, gx.validations, findings)
    clock["end"] = time.perf_counter()
    return IngestResult(manifest, checked.tables, gx.validations, findings,
                        _seconds(clock, gx, ran_gx=worker is not None))


def _scratch_parent(warehouse_dir: Path) -> Path:
    warehouse_dir.parent.mkdir(parents=True, exist_ok=True)
    return warehouse_dir.parent


def _sponsor_ids(raws: dict[str, RawTable]) -> pl.Series:
    return raws["sponsors"].frame.get_column("sponsor_id").cast(pl.String()).drop_nulls()


def _write_reports(staging: Path, manifest: dict[str, Any], checked: Checked,
                   validations: dict[str, TableValidation],
                   findings: RegisterFindings | None) -> None:
    report = render_report(manifest, validations, checked.tables, findings)
    gx_json = {"reports/gx_results.json": json.dumps(
        {n: v.raw_result for n, v in validations.items()}, indent=1, sort_keys=True,
        default=str)} if validations else None
    write_texts(staging, report, manifest, extra_texts=gx_json)


def _seconds(clock: dict[str, float], gx: GxOutcome, ran_gx: bool) -> dict[str, float]:
    """Each step's wall seconds, and GX's: the wait it added, its frames, its CPU."""
    seconds = dict.fromkeys(GX_SECONDS, 0.0) | gx.seconds | {
        "read": clock["read"] - clock["start"], "check": clock["check"] - clock["read"],
        "write": clock["write"] - clock["before_write"],
        "total": clock["end"] - clock["start"]}
    if ran_gx:
        seconds["great_expectations_frames"] = clock["frames"] - clock["check"]
        seconds["great_expectations"] = (clock["great_expectations"] - clock["write"]
                                         + seconds["great_expectations_frames"])
    return {k: round(v, 3) for k, v in seconds.items()}


def _manifest(extract_dir: Path, warehouse_dir: Path, current: Path | None, version: str,
              raws: dict[str, RawTable], checked: Checked, validations: dict[str, Any],
              findings: RegisterFindings | None, now: dt.datetime | None) -> dict[str, Any]:
    previous: list[dict[str, Any]] = []
    if current is not None and (current / MANIFEST).exists():
        old = read_manifest(current)
        previous = old.get("history", []) + [
            {k: old[k] for k in ("extract", "ingested_at", "sources") if k in old}]
    # from the package's metadata: importing GX here would cost seconds
    gx_version = importlib.metadata.version("great_expectations") if validations else None
    return {
        "contract_version": CONTRACT_VERSION,
        "extract": extract_dir.resolve().name,
        "extract_path": str(extract_dir.resolve()),
        "warehouse": str(warehouse_dir),
        "warehouse_version": version,
        "ingested_at": (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds"),
        "sources": {n: [{"file": f.relative, "sha256": f.sha256, "bytes": f.size_bytes}
                        for f in r.files] for n, r in raws.items()},
        "tables": checked.counts,
        "rules_broken": {n: c.broken for n, c in checked.tables.items()},
        "warnings": {n: c.warnings for n, c in checked.tables.items() if c.table.warnings},
        "held": held.summary(checked.held),
        "knowledge_time": checked.knowledge_time,
        "validation": {
            "engine": "great_expectations" if validations else None,
            "great_expectations_version": gx_version,
            "success": all(v.success for v in validations.values()) if validations else None,
            "gx_unexpected_by_rule": {n: v.unexpected_by_rule()
                                      for n, v in validations.items()},
            "gx_cpu_seconds_by_table": {n: round(v.cpu_seconds, 3)
                                        for n, v in validations.items()},
            "report": REPORT},
        "register": findings.as_dict() if findings else None,
        "history": previous,
    }
