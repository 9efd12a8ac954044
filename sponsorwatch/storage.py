"""Atomic writes and the warehouse layout shared by every stage.

A crashed run must leave the previous good state: files are written beside their
destination under a temporary name and moved into place with ``os.replace``; folders
are built under a temporary name and swapped in. The warehouse, which readers must find
at every instant, is a symlink to a version folder (``warehouse -> warehouse.d/000012``)
that :func:`versioned_directory` replaces atomically.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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

    The old folder is renamed aside first and removed only after the new one is in place.
    A run killed between the two renames leaves the old folder aside: the next call puts
    it back before anything else (it never deletes the only copy). For the warehouse,
    which readers must always find, use :func:`versioned_directory`.
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    backup = destination.with_name(f".{destination.name}.old")
    if backup.exists() and not destination.exists():
        os.replace(backup, destination)  # a crash between the renames: restore
    staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", dir=destination.parent))
    try:
        yield staging
        if backup.exists():
            shutil.rmtree(backup)
        if destination.exists():
            os.replace(destination, backup)
        os.replace(staging, destination)
        shutil.rmtree(backup, ignore_errors=True)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


#: Test hook: the step after which the process SIGKILLs itself (see :func:`crash_point`).
CRASH_ENV = "SPONSORWATCH_TEST_CRASH_AFTER_STEP"


def crash_point(step: str) -> None:
    """Kill this process, as the kernel's OOM killer would, where the environment variable
    ``SPONSORWATCH_TEST_CRASH_AFTER_STEP`` names ``step``: the kill tests of the warehouse
    swap. Does nothing otherwise."""
    if os.environ.get(CRASH_ENV) == step:
        os.kill(os.getpid(), signal.SIGKILL)


def versions_dir(destination: Path) -> Path:
    """Where the versions of a versioned folder live: ``<name>.d/`` beside it."""
    return destination.with_name(destination.name + ".d")


@dataclass(frozen=True)
class Staging:
    """The folder to fill, and the version it becomes (``warehouse.d/<version>``)."""

    path: Path
    version: str


_VERSION = re.compile(r"^[0-9]{6}$")
_STAGING_PREFIX = ".staging-"


def _versions(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if _VERSION.match(p.name) and p.is_dir())


def current_version(destination: Path) -> Path | None:
    """The version folder ``destination`` points at now, resolved once (a reader that
    scans through it keeps seeing that one version, whatever swaps happen meanwhile);
    ``destination`` itself where it is a plain folder; None where there is none."""
    if destination.is_symlink():
        target = destination.resolve()
        return target if target.is_dir() else None
    return destination if destination.is_dir() else None


@contextmanager
def versioned_directory(destination: Path) -> Iterator[Staging]:
    """Yield an empty staging folder; on success it becomes the next version
    ``<name>.d/NNNNNN/`` and ``destination``, a relative symlink, is pointed at it.

    The symlink is replaced with ``os.replace`` of a new one, so at every instant
    ``destination`` opens a complete version: the previous one until the swap, the new one
    after. Files are synced before the version is numbered. The previous version is kept
    (a reader that resolved it before the swap can finish), older ones are removed. A
    plain folder at ``destination`` (a warehouse from before versions, a copied home) is
    adopted as a version first, as is the ``.<name>.old`` a crash of the folder swap of
    earlier releases left behind. The caller holds the folder's lock: one writer at a time.
    """
    versions = versions_dir(destination)
    versions.mkdir(parents=True, exist_ok=True)
    previous = open_versioned(destination)
    existing = _versions(versions)
    number = int(existing[-1].name) + 1 if existing else 1
    staging = Path(tempfile.mkdtemp(prefix=f"{_STAGING_PREFIX}{os.getpid()}-", dir=versions))
    try:
        yield Staging(staging, f"{number:06d}")
        _sync_tree(staging)
        crash_point("staged")
        final = versions / f"{number:06d}"
        os.rename(staging, final)
        _sync_dir(versions)
        crash_point("numbered")
        _point(destination, final)
        keep = {final.name, previous.name if previous is not None else None}
        for old in _versions(versions):
            if old.name not in keep:
                _remove_version(old)
        crash_point("pruned")
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def open_versioned(destination: Path) -> Path | None:
    """The version ``destination`` points at, once what a killed writer left is tidied
    (staging folders, temporary links) and a plain folder or old backup is adopted as a
    version (see :func:`versioned_directory`); None where there is no version yet. Call
    it holding the folder's lock, before reading what the next version builds on."""
    versions = versions_dir(destination)
    backup = destination.with_name(f".{destination.name}.old")
    plain = (destination.is_dir() and not destination.is_symlink()) or backup.is_dir()
    if not versions.is_dir() and not plain:
        return current_version(destination)
    versions.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(destination, versions)
    return _adopt(destination, versions)


def _link_name(destination: Path) -> Path:
    return destination.with_name(f".{destination.name}.link-{os.getpid()}")


def _point(destination: Path, version: Path) -> None:
    """Make ``destination`` a symlink to ``version`` in one atomic step."""
    link = _link_name(destination)
    link.unlink(missing_ok=True)
    os.symlink(os.path.relpath(version, destination.parent), link)
    crash_point("linked")
    os.replace(link, destination)
    _sync_dir(destination.parent)
    crash_point("swapped")


def _adopt(destination: Path, versions: Path) -> Path | None:
    """The version ``destination`` points at, making it a symlink to one first where it
    is a plain folder, dangling or missing while versions (or an old backup) exist."""
    backup = destination.with_name(f".{destination.name}.old")
    if destination.is_symlink() and destination.resolve().is_dir():
        shutil.rmtree(backup, ignore_errors=True)  # older than the warehouse: garbage
        return destination.resolve()
    plain = destination if destination.is_dir() and not destination.is_symlink() else (
        backup if backup.is_dir() and not destination.exists() else None)
    existing = _versions(versions)
    if plain is None:
        if not existing:
            destination.unlink(missing_ok=True)  # dangling, nothing to point at
            return None
        _point(destination, existing[-1])
        return existing[-1]
    number = int(existing[-1].name) + 1 if existing else 1
    adopted = versions / f"{number:06d}"
    staging = Path(tempfile.mkdtemp(prefix=f"{_STAGING_PREFIX}{os.getpid()}-", dir=versions))
    shutil.copytree(plain, staging, dirs_exist_ok=True, copy_function=_link_or_copy)
    _sync_tree(staging)
    os.rename(staging, adopted)
    if plain is backup:
        _point(destination, adopted)
    else:
        _replace_folder_with_link(destination, adopted)
    shutil.rmtree(backup, ignore_errors=True)
    return adopted


def _replace_folder_with_link(destination: Path, version: Path) -> None:
    """Replace the plain folder ``destination`` by a symlink to ``version``: atomically
    where the system can exchange two names (Linux ``renameat2``), else by two renames."""
    link = _link_name(destination)
    link.unlink(missing_ok=True)
    os.symlink(os.path.relpath(version, destination.parent), link)
    if not _exchange(link, destination):
        aside = destination.with_name(f".{destination.name}.old")
        os.replace(destination, aside)
        os.replace(link, destination)
        link = aside
    shutil.rmtree(link, ignore_errors=True)  # the old plain folder, now under another name
    _sync_dir(destination.parent)


def _exchange(a: Path, b: Path) -> bool:
    """Swap the names ``a`` and ``b`` atomically; False where the system cannot."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    done = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return bool(done == 0)


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _remove_version(folder: Path) -> None:
    """Rename aside, then delete: a numbered folder is always a complete version."""
    trash = folder.with_name(f"{_STAGING_PREFIX}{os.getpid()}-trash-{folder.name}")
    os.rename(folder, trash)
    shutil.rmtree(trash, ignore_errors=True)


def _remove_leftovers(destination: Path, versions: Path) -> None:
    """Staging folders and temporary links of killed runs (none of them in use: the
    caller holds the lock)."""
    for left in versions.glob(f"{_STAGING_PREFIX}*"):
        shutil.rmtree(left, ignore_errors=True)
    for link in destination.parent.glob(f".{destination.name}.link-*"):
        if link.is_symlink():
            link.unlink(missing_ok=True)
        elif link.is_dir():  # a plain folder swapped out by an exchange, not yet removed
            shutil.rmtree(link, ignore_errors=True)


def _sync_tree(folder: Path) -> None:
    """fsync every file and folder under ``folder``, so that a version is on disk before
    its name says it is complete."""
    for path in sorted(folder.rglob("*"), reverse=True):
        if path.is_file() and not path.is_symlink():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        elif path.is_dir():
            _sync_dir(path)
    _sync_dir(folder)


def _sync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def scan_warehouse(warehouse_dir: Path) -> dict[str, pl.LazyFrame]:
    """Lazily scan the clean tables of a warehouse (``<table>.parquet`` per contract table),
    all from the version the warehouse path points at when called.

    Raises:
        FileNotFoundError: naming the folder, when no warehouse has been ingested there.
    """
    root = current_version(warehouse_dir)  # resolved once: one version, whatever swaps
    if root is None or not (root / "manifest.json").exists():
        raise FileNotFoundError(
            f"{warehouse_dir}: no warehouse here (no manifest.json); run `sponsorwatch ingest`")
    return {name: _with_optional_columns(name, pl.scan_parquet(root / f"{name}.parquet"))
            for name in TABLES if (root / f"{name}.parquet").exists()}


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
