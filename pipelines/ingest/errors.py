"""The one error ingest raises on purpose."""

from __future__ import annotations

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
