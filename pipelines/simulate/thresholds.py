"""The salary criteria as lookup arrays, for whole columns of (scheme, day) at once."""

from __future__ import annotations

import numpy as np
import polars as pl

from pipelines.simulate.calendar import day_of, first_day

SCHEMES = ("KM_REGULAR", "KM_UNDER_30", "KM_REDUCED", "EU_BLUE_CARD")


class Thresholds:
    """Threshold in force per scheme and day, from ``sponsorwatch.thresholds``' table."""

    def __init__(self, table: pl.DataFrame) -> None:
        self._days: list[np.ndarray] = []
        self._values: list[np.ndarray] = []
        for scheme in SCHEMES:
            rows = table.filter(pl.col("scheme") == scheme).sort("valid_from")
            if rows.is_empty():
                raise ValueError(f"salary thresholds have no row for scheme {scheme}")
            self._days.append(np.array([day_of(d) for d in rows["valid_from"].to_list()]))
            self._values.append(rows["monthly_threshold"].to_numpy().astype(float))

    def on_days(self, scheme: np.ndarray, days: np.ndarray) -> np.ndarray:
        """Threshold in force on each day for each scheme index (the earliest one before
        the first row)."""
        out = np.empty(days.size, dtype=float)
        for si in range(len(SCHEMES)):
            idx = np.flatnonzero(scheme == si)
            pos = np.searchsorted(self._days[si], days[idx], side="right") - 1
            out[idx] = self._values[si][np.clip(pos, 0, None)]
        return out

    def in_month(self, scheme: np.ndarray, months: np.ndarray) -> np.ndarray:
        """The higher of the thresholds in force on the month's first and last day, so a
        wage meeting it meets the criterion all month."""
        lo, hi = int(months.min(initial=0)), int(months.max(initial=0))
        span = np.arange(lo, hi + 1)
        table = np.empty((len(SCHEMES), span.size))
        for si in range(len(SCHEMES)):
            scheme_index = np.full(span.size, si)
            table[si] = np.maximum(self.on_days(scheme_index, first_day(span)),
                                   self.on_days(scheme_index, first_day(span + 1) - 1))
        return table[scheme, months - lo]
