"""The warehouse: clean tables merged across extracts (every version of a record kept),
rows held for their sponsor, plus this run's raw layer, quarantine, report and manifest,
written as one new version.

The caller stages the version with :func:`sponsorwatch.storage.versioned_directory`;
layout (see docs/architecture.md): ``<table>.parquet`` (clean), ``held/<table>.parquet``,
``raw/<table>.parquet``, ``quarantine/<table>.parquet``, ``reports/validation.md``,
``manifest.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from sponsorwatch.contract import TABLES, Table
from sponsorwatch.history import derive_versions
from sponsorwatch.storage import write_json_atomic, write_text_atomic

MANIFEST = "manifest.json"
REPORT = "reports/validation.md"
#: Rows held for their sponsor (see :mod:`pipelines.ingest.held`).
HELD_DIR = "held"


@dataclass(frozen=True)
class Merged:
    """A clean table after merging a new extract into the warehouse."""

    frame: pl.DataFrame
    added: int
    superseded: int


def read_clean(warehouse: Path | None, table: Table) -> pl.DataFrame | None:
    """The table's clean rows in the warehouse version ``warehouse``, or None where it has
    none. A warehouse of an earlier contract version lacks optional columns (recorded_on
    before version 2): they come back null, and rows without a knowledge time as the
    versions their dates imply, as a version 1 delivery would."""
    if warehouse is None:
        return None
    path = warehouse / f"{table.name}.parquet"
    if not (warehouse / MANIFEST).exists() or not path.exists():
        return None
    frame = pl.read_parquet(path)
    missing = [c for c in table.columns if c.name not in frame.columns]
    frame = frame.with_columns(pl.lit(None, dtype=c.dtype).alias(c.name) for c in missing)
    frame = frame.select(table.column_names).cast(table.schema)
    return derive_versions(table.name, frame).sort(list(table.key)) if missing else frame


def merge_clean(table: Table, existing: pl.DataFrame | None, new: pl.DataFrame) -> Merged:
    """Rows of ``new`` win over existing rows with the same contract key, the full key:
    for a versioned table (sponsors, officers, inspections) that includes ``recorded_on``,
    so every version is kept and only a version delivered again is replaced. The result
    is sorted by key so equal inputs give equal bytes."""
    key = list(table.key)
    if existing is None or existing.height == 0:
        return Merged(new.sort(key), new.height, 0)
    kept = existing.join(new.select(key), on=key, how="anti", nulls_equal=True)
    merged = pl.concat([kept, new], how="vertical").sort(key)
    superseded = existing.height - kept.height
    return Merged(merged, new.height - superseded, superseded)


def write_tables(staging: Path, clean: dict[str, pl.DataFrame],
                 raw: dict[str, pl.DataFrame], quarantine: dict[str, pl.DataFrame],
                 held: dict[str, pl.DataFrame] | None = None) -> None:
    """Write the clean, held, raw and quarantine tables into a staging folder (see
    :func:`sponsorwatch.storage.versioned_directory`, which publishes it whole)."""
    for name in TABLES:
        if name in clean:
            _write(clean[name], staging / f"{name}.parquet")
        if held is not None and name in held:
            _write(held[name], staging / HELD_DIR / f"{name}.parquet")
        if name in raw:
            _write(raw[name], staging / "raw" / f"{name}.parquet")
        if name in quarantine:
            _write(quarantine[name], staging / "quarantine" / f"{name}.parquet")


def write_texts(staging: Path, report_markdown: str, manifest: dict[str, Any],
                extra_texts: dict[str, str] | None = None) -> None:
    """Write the report, any other texts and, last, the manifest into a staging folder."""
    for relative, text in (extra_texts or {}).items():
        write_text_atomic(text, staging / relative)
    write_text_atomic(report_markdown, staging / REPORT)
    write_json_atomic(manifest, staging / MANIFEST)


def _write(frame: pl.DataFrame, destination: Path) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    # statistics on, no row-group size surprises: same frame, same bytes
    frame.write_parquet(destination, compression="zstd", statistics=True)
