"""Days and months as integers, so whole columns of dates are plain numpy arithmetic.

A day is the number of days since 1970-01-01; a month is the number of months since
1970-01 (so January 2019 is 588).
"""

from __future__ import annotations

from collections.abc import Callable
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


def _via_table(values: np.ndarray, convert: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``convert`` applied through a lookup table when many values span a short range."""
    values = np.asarray(values, dtype=np.int64)
    if values.size < 4096:
        return convert(values)
    lo, hi = int(values.min()), int(values.max())
    if hi - lo > 200_000:
        return convert(values)
    return convert(np.arange(lo, hi + 1, dtype=np.int64))[values - lo]


def month_of_day(days: np.ndarray) -> np.ndarray:
    """Month number of each day."""
    return _via_table(days, _month_of_day)


def first_day(months: np.ndarray) -> np.ndarray:
    """First day of each month number."""
    return _via_table(months, _first_day)


def _month_of_day(days: np.ndarray) -> np.ndarray:
    """Civil-from-days in integer arithmetic."""
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    month = np.where(mp < 10, mp + 3, mp - 9)
    year = yoe + era * 400 + (month <= 2)
    return (year - 1970) * 12 + month - 1


def _first_day(m: np.ndarray) -> np.ndarray:
    """Days-from-civil in integer arithmetic."""
    year = 1970 + m // 12
    month = m % 12 + 1
    year = year - (month <= 2)
    era = year // 400
    yoe = year - era * 400
    doy = (153 * ((month + 9) % 12) + 2) // 5
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146_097 + doe - 719_468


def year_of_day(days: np.ndarray) -> np.ndarray:
    return np.asarray(days, dtype="int64").astype("datetime64[D]").astype(
        "datetime64[Y]").astype(np.int64) + 1970


def first_day_of_year(years: np.ndarray | int) -> np.ndarray:
    return (np.asarray(years, dtype="int64") - 1970).astype("datetime64[Y]").astype(
        "datetime64[D]").astype(np.int64)


def delays(rng: np.random.Generator, n: int, *, median: float, cap: int,
           same_day: float = 0.0, spread: float = 0.8) -> np.ndarray:
    """Days from an event to its registration: 0 for a share ``same_day``, otherwise 1 to
    ``cap`` days, right-skewed around ``median`` (lognormal with that median)."""
    days = np.clip(np.round(median * np.exp(spread * rng.standard_normal(n))), 1, cap)
    return np.where(rng.random(n) < same_day, 0, days.astype(np.int64))


def date_series(name: str, days: np.ndarray, null_from: int | None = NEVER) -> pl.Series:
    """A polars Date column; days at or beyond ``null_from`` become null."""
    values = np.asarray(days, dtype=np.int64)
    series = pl.Series(name, values.astype(np.int32)).cast(pl.Date)
    if null_from is not None:
        mask = values >= null_from
        if mask.any():
            series = series.scatter(np.flatnonzero(mask), None)
    return series
