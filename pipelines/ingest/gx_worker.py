"""great-expectations in a worker process, beside the polars work of an ingest.

GX is pure Python and takes seconds to import; polars spends most of an ingest outside the
GIL. In a process of its own GX imports while polars reads and checks, and validates
while polars writes the warehouse; on a thread of the same process the two fought for the
GIL and the ingest got no faster (measured). The worker is started with ``spawn``: a
fork of a process whose polars thread pool is running may deadlock.

Messages go through :class:`multiprocessing.Queue` both ways, whose ``put`` never blocks
(a feeder thread writes the pipe), so neither side waits on the other until the results
are wanted; the frames themselves go as Arrow files in a scratch folder.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import shutil
import signal
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from sponsorwatch.contract import TABLES, Table

from .gx_validation import TableValidation, start_gx, validate_table

#: Scratch folders are named ``<prefix><pid of the ingest>-<random>``.
SCRATCH_PREFIX = ".gx-frames-"
#: Seconds between checks that the worker is still alive while waiting on it.
_POLL_SECONDS = 0.5


class GxWorkerError(RuntimeError):
    """The worker process failed: a validation raised, or the process died."""


@dataclass
class GxOutcome:
    """What the worker did: results per table and its own seconds (wall and CPU)."""

    validations: dict[str, TableValidation] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


class GxWorker:
    """A great-expectations process: :meth:`submit` frames, then :meth:`results`.

    Use as a context manager; leaving it early (an error in the ingest) ends the process
    at once instead of waiting for its work.
    """

    def __init__(self, scratch_parent: Path | None = None) -> None:
        # frames go to the worker as Arrow files, not pickled through the queue: pickling
        # 17 million payroll rows (1.2 GB) took 8 s of the parent's CPU (measured)
        if scratch_parent is not None:
            remove_stale_scratch(scratch_parent)
        self._scratch = tempfile.TemporaryDirectory(
            prefix=f"{SCRATCH_PREFIX}{os.getpid()}-", dir=scratch_parent)
        context = multiprocessing.get_context("spawn")
        self._requests: Any = context.Queue()
        self._replies: Any = context.Queue()
        self._process = context.Process(target=_serve, args=(self._requests, self._replies,
                                                             os.getpid()),
                                        name="sponsorwatch-gx", daemon=True)

    def __enter__(self) -> GxWorker:
        self._process.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        # Every answer is in, or no answer is wanted any more: end the process at once.
        # Letting it leave on its own cost a second of tearing down GX's modules and
        # frames, which the ingest waited for (measured).
        if self._process.is_alive():
            self._process.terminate()
        self._process.join()
        self._requests.close()
        self._replies.close()
        self._scratch.cleanup()

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def submit(self, table: Table, frame: pl.DataFrame) -> None:
        """Queue ``frame`` (see :func:`gx_suites.gx_frame`) for validation."""
        path = Path(self._scratch.name) / f"{table.name}.arrow"
        frame.write_ipc(path, compression="uncompressed")
        self._requests.put((table.name, path))

    def results(self, on_table: Callable[[str], None] | None = None) -> GxOutcome:
        """Wait for every submitted table; ``on_table(name)`` is called as each finishes.

        Raises:
            GxWorkerError: a validation raised (its traceback is in the message) or the
                worker process ended without answering.
        """
        self._requests.put("results")
        outcome = GxOutcome()
        while True:
            kind, payload = self._next_reply()
            if kind == "validated" and on_table is not None:
                on_table(payload)
            elif kind == "failed":
                raise GxWorkerError(f"great-expectations failed: {payload}")
            elif kind == "results":
                outcome.validations, outcome.seconds = payload
                return outcome

    def _next_reply(self) -> tuple[str, Any]:
        while True:
            try:
                reply: tuple[str, Any] = self._replies.get(timeout=_POLL_SECONDS)
                return reply
            except queue.Empty:
                if not self._process.is_alive():
                    raise GxWorkerError(
                        "the great-expectations worker process ended without answering "
                        f"(exit code {self._process.exitcode}). If it could not start: a "
                        "script that runs an ingest must guard its top level with "
                        "`if __name__ == '__main__':`, as multiprocessing's spawn "
                        "needs") from None


def _serve(requests: Any, replies: Any, parent: int) -> None:
    """The worker's loop: import GX, validate each frame as it comes, answer on request."""
    # Ctrl-C reaches the whole process group; the parent ends the worker itself
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_end_with, args=(parent,), daemon=True,
                     name="sponsorwatch-gx-parent-watch").start()
    started, cpu_started = time.perf_counter(), time.process_time()
    try:
        _thread_lock_for_tqdm()
        context, source = start_gx()
    except BaseException:  # noqa: BLE001 - reported to the parent, which raises it
        replies.put(("failed", traceback.format_exc()))
        return
    seconds = {"great_expectations_import": time.perf_counter() - started,
               "great_expectations_import_cpu": time.process_time() - cpu_started}
    validations: dict[str, TableValidation] = {}
    while True:  # until the parent ends the process
        request = requests.get()
        if request == "results":
            seconds["great_expectations_cpu"] = time.process_time() - cpu_started
            replies.put(("results", (validations, seconds)))
            validations = {}
            continue
        name, path = request
        try:
            validations[name] = validate_table(context, source, TABLES[name],
                                               pl.read_ipc(path))
        except BaseException:  # noqa: BLE001 - reported to the parent, which raises it
            replies.put(("failed", f"{name}: {traceback.format_exc()}"))
            return
        replies.put(("validated", name))


def _end_with(parent: int) -> None:
    """End this process once the parent is gone: an ingest killed at any step (by the
    OOM killer, say) must not leave its worker behind, waiting forever for requests."""
    while os.getppid() == parent:
        time.sleep(_POLL_SECONDS)
    os._exit(0)


def remove_stale_scratch(parent: Path) -> list[Path]:
    """Remove scratch folders under ``parent`` left by ingests that were killed (their
    process is gone); returns what was removed."""
    removed = []
    for folder in parent.glob(f"{SCRATCH_PREFIX}*"):
        pid = folder.name[len(SCRATCH_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # somebody else's process
        return True
    return True


def _thread_lock_for_tqdm() -> None:
    """GX makes (disabled) tqdm bars, and tqdm's default lock is a multiprocessing
    semaphore, which the worker's ending at once would leave behind for the resource
    tracker to clean up with a warning; one process needs only a thread lock."""
    from tqdm import tqdm  # type: ignore[import-untyped]

    tqdm.set_lock(threading.RLock())
