"""great-expectations on a thread of its own, beside the polars work of ingest.

GX is pure Python and holds the GIL; polars reads, checks and writes in Rust and
releases it. So the worker imports GX (seconds) while polars reads and checks, validates
each table as soon as polars has checked it, and polars writes the warehouse's Parquet
files meanwhile: on two cores the two overlap, and only the report waits for GX.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass

import polars as pl

from sponsorwatch.contract import Table

from .gx_suites import TableValidation, start_gx, validate_table


@dataclass(frozen=True)
class _Job:
    table: Table
    parsed: pl.DataFrame
    known: dict[str, pl.Series]
    result: Future[TableValidation]


class GxWorker:
    """Validates the tables handed to :meth:`submit`, one after another, on its thread.

    Start it before reading the extract, so the import overlaps with polars; call
    :meth:`close` when no table is left (also after an error: the thread then ends).
    """

    def __init__(self) -> None:
        #: Seconds the import took on the worker's thread (wall, and CPU of that thread).
        self.import_seconds = 0.0
        self.import_cpu_seconds = 0.0
        #: CPU seconds of the worker's thread so far: import and validation.
        self.cpu_seconds = 0.0
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._submitted: list[Future[TableValidation]] = []
        self._thread = threading.Thread(target=self._work, name="great-expectations",
                                        daemon=True)
        self._thread.start()

    def submit(self, table: Table, parsed: pl.DataFrame,
               known: Mapping[str, pl.Series]) -> Future[TableValidation]:
        """Queue ``parsed`` for validation; the future holds its result or error."""
        job = _Job(table, parsed, dict(known), Future())
        self._submitted.append(job.result)
        self._jobs.put(job)
        return job.result

    def close(self, cancel: bool = False) -> None:
        """No more tables: the thread ends after the queued ones, or, with ``cancel`` (the
        ingest failed), after the one it is validating."""
        if cancel:
            for result in self._submitted:
                result.cancel()
        self._jobs.put(None)

    def _work(self) -> None:
        started, started_cpu = time.perf_counter(), time.thread_time()
        try:
            context, source = start_gx()
        except BaseException as exc:  # every queued table reports the failed import
            self._fail_all(exc)
            return
        finally:
            self.import_seconds = time.perf_counter() - started
            self.import_cpu_seconds = time.thread_time() - started_cpu
        while (job := self._jobs.get()) is not None:
            if not job.result.set_running_or_notify_cancel():
                continue
            error: BaseException | None = None
            try:
                validation = validate_table(context, source, job.table, job.parsed, job.known)
            except BaseException as exc:  # raised where the result is awaited
                error = exc
            # counted before the result is handed over, so whoever awaits it sees the total
            self.cpu_seconds = time.thread_time() - started_cpu
            if error is None:
                job.result.set_result(validation)
            else:
                job.result.set_exception(error)

    def _fail_all(self, error: BaseException) -> None:
        while (job := self._jobs.get()) is not None:
            if job.result.set_running_or_notify_cancel():
                job.result.set_exception(error)
