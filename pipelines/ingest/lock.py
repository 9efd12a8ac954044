"""One ingest at a time per warehouse: an exclusive ``flock`` on ``<warehouse>.lock``.

The lock belongs to the open file, so a holder that is killed releases it with its
process; the file itself stays (removing a lock file races with the next taker). It holds
the holder's pid, for the message of the ingest that finds it taken.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import WarehouseBusy


def lock_path(warehouse_dir: Path) -> Path:
    """The lock file beside the warehouse: ``<home>/warehouse.lock``."""
    return warehouse_dir.with_name(warehouse_dir.name + ".lock")


@contextmanager
def warehouse_lock(warehouse_dir: Path) -> Iterator[Path]:
    """Hold the warehouse's lock for the block; yields the lock file.

    Raises:
        WarehouseBusy: at once, naming the lock file and the pid holding it, where another
            process holds it.
    """
    path = lock_path(warehouse_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            raise WarehouseBusy(path, warehouse_dir, holder or "unknown") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        yield path
        os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # releases the lock
