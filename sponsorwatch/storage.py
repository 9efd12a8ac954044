"""Atomic writes and the warehouse layout shared by every stage.

A crashed run must leave the previous good state: files are written beside their
destination under a temporary name and moved into place with ``os.replace``; folders
are built under a temporary name and swapped in.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from sponsorwatch.contract import TABLES


@contextmanager
def atomic_path(destination: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``destination``; move it into place on success."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".tmp",
                               dir=destination.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, destination)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_parquet_atomic(frame: pl.DataFrame, destination: Path) -> None:
    with atomic_path(destination) as tmp:
        frame.write_parquet(tmp, compression="zstd", statistics=True)


def write_text_atomic(text: str, destination: Path) -> None:
    with atomic_path(destination) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json_atomic(payload: Any, destination: Path) -> None:
    write_text_atomic(json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n",
                      destination)


@contextmanager
def atomic_directory(destination: Path) -> Iterator[Path]:
    """Yield an empty temporary folder; on success it replaces ``destination`` whole.

    The old folder is renamed aside first and removed only after the new one is in place,
    so at every instant either the old or the new complete folder exists.
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", dir=destination.parent))
    try:
        yield staging
        backup = destination.with_name(f".{destination.name}.old")
        if backup.exists():
            shutil.rmtree(backup)
        if destination.exists():
            os.replace(destination, backup)
        os.replace(staging, destination)
        shutil.rmtree(backup, ignore_errors=True)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def scan_warehouse(warehouse_dir: Path) -> dict[str, pl.LazyFrame]:
    """Lazily scan the clean tables of a warehouse (``<table>.parquet`` per contract table).

    Raises:
        FileNotFoundError: naming the folder, when no warehouse has been ingested there.
    """
    if not (warehouse_dir / "manifest.json").exists():
        raise FileNotFoundError(
            f"{warehouse_dir}: no warehouse here (no manifest.json); run `sponsorwatch ingest`")
    return {name: _with_optional_columns(name, pl.scan_parquet(warehouse_dir / f"{name}.parquet"))
            for name in TABLES if (warehouse_dir / f"{name}.parquet").exists()}


def _with_optional_columns(name: str, frame: pl.LazyFrame) -> pl.LazyFrame:
    """A warehouse table with every nullable contract column, null where a warehouse of an
    earlier contract version lacks it (``recorded_on`` before version 2, say)."""
    present = frame.collect_schema()
    missing = [c for c in TABLES[name].columns if c.nullable and c.name not in present]
    return frame.with_columns(pl.lit(None, dtype=c.dtype).alias(c.name) for c in missing) \
        if missing else frame


def read_manifest(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def json_safe(value: Any) -> Any:
    """``value`` with NaN and infinity as None and numpy scalars as Python ones (strict JSON)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        return json_safe(value.item())
    return value
