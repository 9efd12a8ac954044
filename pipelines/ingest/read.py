"""Reading an extract folder in the contract's shape, exactly as delivered.

CSV is read with every column as text (no type inference), so ``01234567`` keeps its
leading zero and names keep every byte; parsing to contract types happens later, per
value, in :mod:`sponsorwatch.validation`. Every row carries where it came from:
``_source_file`` (relative to the extract), ``_source_row`` (1-based record number) and,
for CSV, ``_source_line`` (the physical line the record starts on, counting newlines
inside quoted values).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from sponsorwatch.contract import Table
from sponsorwatch.validation import ContractViolation, check_schema

from .errors import IngestError

SOURCE_FILE, SOURCE_ROW, SOURCE_LINE = "_source_file", "_source_row", "_source_line"
_DUPLICATED_HEADER = re.compile(r"^(?P<name>.+)_duplicated_\d+$")


@dataclass(frozen=True)
class SourceFile:
    """One delivered file and its checksum."""

    path: Path
    relative: str
    sha256: str
    size_bytes: int


@dataclass(frozen=True)
class RawTable:
    """A table as read: every delivered column, plus the ``_source*`` columns."""

    table: str
    frame: pl.DataFrame
    files: tuple[SourceFile, ...]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def find_sources(extract_dir: Path, table: Table) -> list[Path]:
    """The files delivering ``table``: ``<table>.parquet``, ``<table>/*.parquet`` or
    ``<table>.csv``. Empty when the table is absent.

    Raises:
        IngestError: when a table is delivered in more than one form.
    """
    candidates = [extract_dir / f"{table.name}.parquet", extract_dir / table.name,
                  extract_dir / f"{table.name}.csv"]
    present = [p for p in candidates if p.exists()]
    if len(present) > 1:
        raise IngestError(", ".join(p.name for p in present), None, "one_form_per_table",
                          f"{table.name} is delivered more than once; keep one of them")
    if not present:
        return []
    source = present[0]
    if source.is_dir():
        files = sorted(source.glob("*.parquet"))
        if not files:
            raise IngestError(f"{table.name}/", None, "file_readable",
                              "folder holds no .parquet files")
        return files
    return [source]


def _csv_line_numbers(frame: pl.DataFrame) -> pl.Series:
    """Physical line each record starts on: the header is line 1, and a record spans one
    line plus the newlines inside its quoted values."""
    text_cols = [c for c, t in frame.schema.items() if t == pl.String()]
    if frame.height == 0:
        return pl.Series(SOURCE_LINE, [], dtype=pl.Int64())
    inner = (pl.sum_horizontal([pl.col(c).str.count_matches("\n").fill_null(0)
                                for c in text_cols]) if text_cols else pl.lit(0))
    span = (inner + 1).cast(pl.Int64())
    return frame.select((span.cum_sum() - span + 2).alias(SOURCE_LINE)).to_series()


def read_csv(path: Path, relative: str) -> pl.DataFrame:
    """A CSV file with every column as text and its row and line numbers.

    Raises:
        IngestError: the file is not UTF-8, not well-formed CSV, empty, or has a
            column twice.
    """
    try:
        frame = pl.read_csv(path, infer_schema=False, encoding="utf8", raise_if_empty=True)
    except pl.exceptions.NoDataError as exc:
        raise IngestError(relative, None, "file_readable", "the file is empty") from exc
    except pl.exceptions.PolarsError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise IngestError(relative, None, "file_readable",
                          f"not a well-formed UTF-8 CSV with a header row ({first_line})"
                          ) from exc
    for col in frame.columns:
        match = _DUPLICATED_HEADER.match(col)
        if match and match["name"] in frame.columns:
            raise IngestError(relative, match["name"], "column_unique",
                              "the header names this column more than once")
    lines = _csv_line_numbers(frame)
    return frame.with_columns(
        pl.lit(relative).alias(SOURCE_FILE),
        pl.int_range(1, frame.height + 1, dtype=pl.Int64()).alias(SOURCE_ROW),
        lines)


def read_parquet(path: Path, relative: str) -> pl.DataFrame:
    """A Parquet file as stored, with its row numbers.

    Raises:
        IngestError: the file cannot be read as Parquet.
    """
    try:
        frame = pl.read_parquet(path)
    except Exception as exc:  # polars, pyarrow and OS errors all mean "unreadable" here
        raise IngestError(relative, None, "file_readable",
                          f"not a readable Parquet file ({type(exc).__name__})") from exc
    return frame.with_columns(
        pl.lit(relative).alias(SOURCE_FILE),
        pl.int_range(1, frame.height + 1, dtype=pl.Int64()).alias(SOURCE_ROW),
        pl.lit(None, dtype=pl.Int64()).alias(SOURCE_LINE))


def read_table(extract_dir: Path, table: Table) -> RawTable | None:
    """Read every file of ``table`` in the extract, or None where it is not delivered.

    Files of a folder are stacked in name order; a column missing from some of them is
    null there.
    """
    paths = find_sources(extract_dir, table)
    if not paths:
        return None
    frames, files = [], []
    for path in paths:
        relative = path.relative_to(extract_dir).as_posix()
        reader = read_csv if path.suffix == ".csv" else read_parquet
        frame = reader(path, relative)
        try:
            check_schema(table, frame.schema, relative)
        except ContractViolation as exc:
            raise IngestError.from_violation(exc, relative) from exc
        frames.append(frame)
        files.append(SourceFile(path, relative, sha256_of(path), path.stat().st_size))
    try:
        frame = pl.concat(frames, how="diagonal_relaxed") if len(frames) > 1 else frames[0]
    except pl.exceptions.PolarsError as exc:
        raise IngestError(f"{table.name}/", None, "files_compatible",
                          f"the files of this folder have clashing column types ({exc})"
                          ) from exc
    return RawTable(table.name, frame, tuple(files))
