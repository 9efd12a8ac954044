"""The training set: feature snapshots joined with their labels.

Every snapshot row stays (labelled or not): the unlabelled ones are needed by the
selection corrections (propensity of being inspected, PU learning) and by evaluation
against a simulated world's truth.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from training.fitting.labels import build_labels, labelable_dates
from training.fitting.model import feature_matrix

KEY_COLUMNS = ("sponsor_id", "as_of")


@dataclass(frozen=True)
class TrainingSet:
    """Snapshots (``sponsor_id, as_of, label, selection`` and the features) up to a
    cut-off. ``label`` is null where unknown."""

    frame: pl.DataFrame
    feature_names: list[str]
    horizon_months: int
    until: date

    @property
    def dates(self) -> list[date]:
        return sorted(self.frame.get_column("as_of").unique().to_list())

    def rows(self, dates: Iterable[date], labelled_only: bool = True,
             selection: str | None = None) -> pl.DataFrame:
        """Rows of the given snapshot dates (labelled ones only by default; only those
        decided by one kind of selection when ``selection`` is given)."""
        wanted = pl.col("as_of").is_in(sorted(set(dates)))
        if labelled_only:
            wanted = wanted & pl.col("label").is_not_null()
        if selection is not None:
            wanted = wanted & (pl.col("selection") == selection)
        return self.frame.filter(wanted)

    def matrix(self, rows: pl.DataFrame) -> np.ndarray:
        return feature_matrix(rows, self.feature_names)

    def summary(self) -> dict[str, object]:
        """Counts for the run's data manifest."""
        labelled = self.frame.filter(pl.col("label").is_not_null())
        return {
            "snapshot_dates": [str(d) for d in self.dates],
            "rows": self.frame.height,
            "labelled_rows": labelled.height,
            "positive_rows": int(labelled.get_column("label").sum() or 0),
            "random_labelled_rows": labelled.filter(pl.col("selection") == "RANDOM").height,
            "sponsors": self.frame.get_column("sponsor_id").n_unique(),
            "horizon_months": self.horizon_months,
            "until": str(self.until),
        }


def assemble(features: pl.LazyFrame, inspections: pl.LazyFrame, feature_names: list[str],
             horizon_months: int, until: date) -> TrainingSet:
    """Join every snapshot whose label window ends by ``until`` with its label.

    Args:
        features: snapshots (``sponsor_id, as_of`` and feature columns), any dates.
        inspections: the contract's inspections table.
        feature_names: the model's inputs (a missing one is an error).
        horizon_months: label horizon H.
        until: training cut-off: T + H <= until and outcomes closed by ``until``.

    Raises:
        ValueError: when no snapshot has a complete label window by ``until``, or a
            feature column is missing.
    """
    all_dates = features.select(pl.col("as_of").unique()).collect().get_column("as_of")
    dates = labelable_dates(all_dates.to_list(), horizon_months, until)
    if not dates:
        raise ValueError(
            f"no feature snapshot has a complete {horizon_months}-month label window by "
            f"{until} (snapshot dates: {sorted(str(d) for d in all_dates.to_list())}); "
            "run `sponsorwatch features` for earlier dates or move --until later")
    columns = features.collect_schema().names()
    missing = [f for f in feature_names if f not in columns]
    if missing:
        raise ValueError(f"feature snapshots lack column(s) {missing}; rebuild them with "
                         "`sponsorwatch features`")
    labels = build_labels(inspections, dates, horizon_months, known_until=until)
    frame = (features.filter(pl.col("as_of").is_in(dates))
             .select(*KEY_COLUMNS, *feature_names)
             .join(labels, on=list(KEY_COLUMNS), how="left")
             .select(*KEY_COLUMNS, "label", "selection", *feature_names)
             .sort("as_of", "sponsor_id")
             .collect())
    return TrainingSet(frame, list(feature_names), horizon_months, until)
