"""Time-based splits with a gap of at least the label horizon.

A snapshot as of T is labelled by inspections opened in (T, T+H]. A training snapshot whose
label window reaches past a test snapshot's date would leak the future into training, so
every training snapshot is at least H before every test snapshot (the gap), and a test
snapshot is used only once its own window has ended (T + H <= until). The gap also means
every training window has ended by the fold's test date, so the fold's training labels can
be those known on that date (``TrainingSet.known_on``) without cutting a window short.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from training.fitting.labels import add_months, labelable_dates


@dataclass(frozen=True)
class TimeFold:
    """Train on snapshots ``train_dates``, test on snapshots ``test_dates`` (all later)."""

    name: str
    train_dates: tuple[date, ...]
    test_dates: tuple[date, ...]

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "train_dates": [str(d) for d in self.train_dates],
                "test_dates": [str(d) for d in self.test_dates]}


def dates_before_gap(dates: Iterable[date], test_start: date, gap_months: int) -> list[date]:
    """Dates at least ``gap_months`` before ``test_start``."""
    cut = add_months(test_start, -gap_months)
    return sorted(d for d in dates if d <= cut)


def prequential_folds(as_of_dates: Iterable[date], horizon_months: int, until: date,
                      n_folds: int = 3, test_span: int = 1,
                      min_train_dates: int = 2) -> list[TimeFold]:
    """Walk-forward folds over the labelable snapshot dates, latest fold last.

    Each fold tests on ``test_span`` consecutive labelable dates and trains on every date at
    least one horizon earlier than the first of them. Folds without ``min_train_dates``
    training dates are dropped, so fewer than ``n_folds`` may come back.
    """
    usable = labelable_dates(as_of_dates, horizon_months, until)
    folds: list[TimeFold] = []
    end = len(usable)
    while end - test_span >= 0 and len(folds) < n_folds:
        test = tuple(usable[end - test_span:end])
        train = tuple(dates_before_gap(usable, test[0], horizon_months))
        if len(train) < min_train_dates:
            break
        folds.append(TimeFold(f"test_{test[0]}", train, test))
        end -= test_span
    return folds[::-1]
