"""Time splits keep a gap of at least the horizon and never test on unfinished windows."""

from __future__ import annotations

from datetime import date

from training.fitting.labels import add_months
from training.fitting.splits import prequential_folds

QUARTERS = [date(y, m, 1) for y in range(2019, 2025) for m in (1, 4, 7, 10)]


def test_prequential_folds_keep_the_gap_and_walk_forward() -> None:
    folds = prequential_folds(QUARTERS, 12, date(2024, 6, 30), n_folds=3)
    assert len(folds) == 3
    assert [f.test_dates[0] for f in folds] == [date(2022, 10, 1), date(2023, 1, 1),
                                                 date(2023, 4, 1)]
    for fold in folds:
        assert add_months(fold.test_dates[-1], 12) <= date(2024, 6, 30)
        assert max(fold.train_dates) <= add_months(fold.test_dates[0], -12)
        assert fold.train_dates == tuple(d for d in QUARTERS
                                         if d <= add_months(fold.test_dates[0], -12))
