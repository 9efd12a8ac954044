"""The warehouse: clean tables merged across extracts, plus this run's raw layer,
quarantine, report and manifest, written as one folder swap.

The caller stages the folder with :func:`sponsorwatch.storage.atomic_directory`; layout
(see docs/architecture.md): ``<table>.parquet`` (clean), ``raw/<table>.parquet``,
``quarantine/<table>.parquet``, ``reports/validation.md``, ``manifest.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from sponsorwatch.contract import TABLES, Table
from sponsorwatch.storage import write_json_atomic, write_text_atomic

MANIFEST = "manifest.json"
REPORT = "reports/validation.md"


@dataclass(frozen=True)
class Merged:
    """A clean table after merging a new extract into the warehouse."""

    frame: pl.DataFrame
    added: int
    superseded: int


def read_clean(warehouse_dir: Path, table: Table) -> pl.DataFrame | None:
    """The table's clean rows in the current warehouse, or None where it has none."""
    path = warehouse_dir / f"{table.name}.parquet"
    if not (warehouse_dir / MANIFEST).exists() or not path.exists():
        return None
    return pl.read_parquet(path).select(table.column_names).cast(table.schema)


def merge_clean(table: Table, existing: pl.DataFrame | None, new: pl.DataFrame) -> Merged:
    """Rows of ``new`` win over existing rows with the same contract key; the result is
    sorted by key so equal inputs give equal bytes."""
    key = list(table.key)
    if existing is None or existing.height == 0:
        return Merged(new.sort(key), new.height, 0)
    kept = existing.join(new.select(key), on=key, how="anti", nulls_equal=True)
    merged = pl.concat([kept, new], how="vertical").sort(key)
    superseded = existing.height - kept.height
    return Merged(merged, new.height - superseded, superseded)


def write_tables(staging: Path, clean: dict[str, pl.DataFrame],
                 raw: dict[str, pl.DataFrame], quarantine: dict[str, pl.DataFrame]) -> None:
    """Write the clean, raw and quarantine tables into a staging folder (see
    :func:`sponsorwatch.storage.atomic_directory`, which swaps it in whole)."""
    for name in TABLES:
        if name in clean:
            _write(clean[name], staging / f"{name}.parquet")
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
