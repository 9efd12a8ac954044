"""The training set: feature snapshots joined with their labels.

Every snapshot row stays (labelled or not): the unlabelled ones are needed by the
selection corrections (propensity of being inspected, PU learning) and by evaluation
against a simulated world's truth.

Labels have a knowledge time. The frame carries them as known on ``until`` (what a run
may use to evaluate); a backtest that tests on day t trains on labels as known on t
(:meth:`TrainingSet.known_on`), rebuilt from the raw inspections the set keeps and cached
per knowledge day, so the cost is one label build per day, not per use.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date

import numpy as np
import polars as pl

from training.fitting.labels import LABEL_COLUMNS, build_labels, labelable_dates
from training.fitting.model import feature_matrix

KEY_COLUMNS = ("sponsor_id", "as_of")


@dataclass(frozen=True)
class TrainingSet:
    """Snapshots (``sponsor_id, as_of, label, selection, plan_id, inclusion_probability``
    and the features) up to a cut-off. ``label`` is null where unknown.

    ``frame`` holds the labels as known on ``until``; :meth:`rows` of a view made by
    :meth:`known_on` gives them as known on an earlier day instead (``inspections``, every
    version of the raw table, is kept for that).
    """

    frame: pl.DataFrame
    feature_names: list[str]
    horizon_months: int
    until: date
    inspections: pl.DataFrame | None = field(default=None, repr=False, compare=False)
    #: The knowledge day of the labels :meth:`rows` returns (None: ``until``).
    label_day: date | None = None
    _labels_by_day: dict[date, pl.DataFrame] = field(default_factory=dict, repr=False,
                                                     compare=False)

    @property
    def knowledge_day(self) -> date:
        """The day whose knowledge the labels of :meth:`rows` reflect."""
        return self.until if self.label_day is None else self.label_day

    def known_on(self, day: date) -> TrainingSet:
        """The same snapshots with labels as known on ``day``: only inspection versions
        recorded on or before it, outcomes closed after it still open. Shares the frame
        and the label cache.

        Raises:
            ValueError: when ``day`` is after ``until`` (unknown yet), or the set keeps no
                inspections to rebuild labels from.
        """
        if day > self.until:
            raise ValueError(f"labels as known on {day} are not known by the cut-off "
                             f"{self.until}")
        if day != self.until and self.inspections is None:
            raise ValueError("this training set keeps no inspections, so its labels cannot "
                             f"be rebuilt as known on {day}; build it with assemble()")
        return replace(self, label_day=None if day == self.until else day)

    def labels(self, day: date) -> pl.DataFrame:
        """``sponsor_id, as_of`` and the label columns of every snapshot date as known on
        ``day`` (cached per day)."""
        if day not in self._labels_by_day:
            assert self.inspections is not None
            self._labels_by_day[day] = build_labels(
                self.inspections.lazy(), self.dates, self.horizon_months,
                known_until=day).collect()
        return self._labels_by_day[day]

    @property
    def dates(self) -> list[date]:
        return sorted(self.frame.get_column("as_of").unique().to_list())

    def rows(self, dates: Iterable[date], labelled_only: bool = True,
             selection: str | None = None) -> pl.DataFrame:
        """Rows of the given snapshot dates (labelled ones only by default; only those
        decided by one kind of selection when ``selection`` is given)."""
        wanted = pl.col("as_of").is_in(sorted(set(dates)))
        frame = self.frame
        if self.label_day is not None:
            frame = self._relabelled(frame.filter(wanted), self.label_day)
        if labelled_only:
            wanted = wanted & pl.col("label").is_not_null()
        if selection is not None:
            wanted = wanted & (pl.col("selection") == selection)
        return frame.filter(wanted)

    def _relabelled(self, rows: pl.DataFrame, day: date) -> pl.DataFrame:
        labels = self.labels(day)
        return (rows.drop(LABEL_COLUMNS)
                .join(labels, on=list(KEY_COLUMNS), how="left", maintain_order="left")
                .select(rows.columns))

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
            "labelled_rows_with_inclusion_probability": labelled.filter(
                pl.col("inclusion_probability").is_not_null()).height,
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
    # Every version is kept: labels as known on an earlier day are rebuilt from them.
    raw = _label_inputs(inspections).collect()
    labels = build_labels(raw.lazy(), dates, horizon_months, known_until=until).collect()
    frame = (features.filter(pl.col("as_of").is_in(dates))
             .select(*KEY_COLUMNS, *feature_names)
             .join(labels.lazy(), on=list(KEY_COLUMNS), how="left")
             .select(*KEY_COLUMNS, *LABEL_COLUMNS, *feature_names)
             .sort("as_of", "sponsor_id")
             .collect())
    data = TrainingSet(frame, list(feature_names), horizon_months, until, inspections=raw)
    data._labels_by_day[until] = labels
    return data


#: The inspection columns labels read (the others, findings and fines, are not kept).
_LABEL_INPUTS = ("inspection_id", "sponsor_id", "opened_on", "closed_on", "selection",
                 "outcome", "recorded_on", "plan_id", "inclusion_probability")


def _label_inputs(inspections: pl.LazyFrame) -> pl.LazyFrame:
    present = inspections.collect_schema()
    return inspections.select([c for c in _LABEL_INPUTS if c in present])
