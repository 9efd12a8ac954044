"""Feeding a year's inspections back: the versions recorded by the end of the year are
delivered to the warehouse as an ingest would take them, the others wait for a later
delivery.

Each delivery goes through ingest's own row checks (``pipelines.ingest.rules.check_table``:
the contract's types, enums, key, cross-field rules and the sponsor reference, clean, held
or quarantined) and is merged on the contract key as ingest merges it
(``pipelines.ingest.warehouse.merge_clean``). great-expectations is left out (it validates
the same rules for the report and would add seconds per delivery), and nothing is written
to disk: the warehouse's inspections table is kept in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import polars as pl

from pipelines.ingest.read import SOURCE_FILE, SOURCE_LINE, SOURCE_ROW, RawTable
from pipelines.ingest.rules import check_table
from pipelines.ingest.warehouse import merge_clean
from sponsorwatch.contract import TABLES
from sponsorwatch.history import derive_versions


@dataclass
class Delivery:
    """What one delivery did."""

    delivered: int
    clean: int
    held: int
    quarantined: int
    broken: dict[str, int] = field(default_factory=dict)


@dataclass
class InspectionWarehouse:
    """The warehouse's inspections (every clean version) and the versions not yet
    recorded, which a later delivery brings."""

    known_sponsors: pl.Series
    clean: pl.DataFrame
    pending: pl.DataFrame
    deliveries: list[Delivery] = field(default_factory=list)

    @classmethod
    def start(cls, inspections: pl.DataFrame, known_sponsors: pl.Series
              ) -> InspectionWarehouse:
        """A warehouse whose first delivery is ``inspections`` (all of it)."""
        table = TABLES["inspections"]
        empty = pl.DataFrame(schema={c.name: c.dtype for c in table.columns})
        warehouse = cls(known_sponsors, empty, empty)
        warehouse.deliver(inspections, None)
        return warehouse

    def deliver(self, versions: pl.DataFrame, recorded_by: date | None) -> Delivery:
        """Queue ``versions`` and ingest every queued version recorded by ``recorded_by``
        (all where None)."""
        queue = pl.concat([self.pending, versions], how="vertical_relaxed")
        due = (pl.lit(True) if recorded_by is None
               else pl.col("recorded_on").is_null() | (pl.col("recorded_on") <= recorded_by))
        batch, self.pending = queue.filter(due), queue.filter(~due)
        delivery = self._ingest(batch)
        self.deliveries.append(delivery)
        return delivery

    def _ingest(self, batch: pl.DataFrame) -> Delivery:
        table = TABLES["inspections"]
        raw = RawTable(table.name, batch.with_columns(
            pl.lit(f"{table.name}.parquet").alias(SOURCE_FILE),
            pl.int_range(1, batch.height + 1, dtype=pl.Int64).alias(SOURCE_ROW),
            pl.lit(None, dtype=pl.Int64).alias(SOURCE_LINE)), ())
        checked = check_table(raw, {"sponsors": self.known_sponsors})
        self.clean = merge_clean(table, self.clean,
                                 derive_versions(table.name, checked.clean)).frame
        return Delivery(batch.height, checked.clean.height, checked.held.height,
                        checked.quarantined.height, dict(checked.broken))
