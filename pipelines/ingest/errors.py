"""The errors ingest raises on purpose (all :class:`IngestError`)."""

from __future__ import annotations

from pathlib import Path

from sponsorwatch.validation import ContractViolation


class IngestError(ContractViolation):
    """A table-level problem that stops ingest and leaves the warehouse as it was.

    Names the file, the column (where one is at fault) and the rule broken.
    """

    def __init__(self, file: str, column: str | None, rule: str, detail: str,
                 table: str = "") -> None:
        super().__init__(table, column, rule, detail, file)

    @classmethod
    def from_violation(cls, violation: ContractViolation, file: str) -> IngestError:
        return cls(file, violation.column, violation.rule, violation.detail, violation.table)


class WarehouseBusy(IngestError):
    """Another ingest holds the warehouse's lock: this one stops before touching it."""

    def __init__(self, lock_file: Path, warehouse_dir: Path, holder_pid: str) -> None:
        self.lock_file, self.holder_pid = lock_file, holder_pid
        super().__init__(str(lock_file), None, "one_ingest_at_a_time",
                         f"another ingest (pid {holder_pid}) holds the lock on "
                         f"{warehouse_dir}; wait for it to finish (a killed ingest releases "
                         "the lock by itself)")
