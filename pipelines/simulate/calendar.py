"""Days and months as integers, so whole columns of dates are plain numpy arithmetic.

A day is the number of days since 1970-01-01; a month is the number of months since
1970-01 (so January 2019 is 588).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

EPOCH = date(1970, 1, 1)
#: A day after any simulated event: "never".
NEVER = 10**6


def day_of(d: date) -> int:
    return (d - EPOCH).days


def date_of(day: int) -> date:
    return date.fromordinal(EPOCH.toordinal() + int(day))


def month_of_day(days: np.ndarray) -> np.ndarray:
    """Month number of each day."""
    return np.asarray(days, dtype="int64").astype("datetime64[D]").astype(
        "datetime64[M]").astype(np.int64)


def first_day(months: np.ndarray) -> np.ndarray:
    """First day of each month number."""
    return np.asarray(months, dtype="int64").astype("datetime64[M]").astype(
        "datetime64[D]").astype(np.int64)


def year_of_day(days: np.ndarray) -> np.ndarray:
    return np.asarray(days, dtype="int64").astype("datetime64[D]").astype(
        "datetime64[Y]").astype(np.int64) + 1970


def first_day_of_year(years: np.ndarray | int) -> np.ndarray:
    return (np.asarray(years, dtype="int64") - 1970).astype("datetime64[Y]").astype(
        "datetime64[D]").astype(np.int64)


def date_series(name: str, days: np.ndarray, null_from: int | None = NEVER) -> pl.Series:
    """A polars Date column; days at or beyond ``null_from`` become null."""
    values = np.asarray(days, dtype=np.int64)
    series = pl.Series(name, values.astype(np.int32)).cast(pl.Date)
    if null_from is not None:
        mask = values >= null_from
        if mask.any():
            series = series.scatter(np.flatnonzero(mask), None)
    return series
