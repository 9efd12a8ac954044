"""Month arithmetic shared by the families: months as integers (year * 12 + month - 1)."""

from __future__ import annotations

import datetime as dt

import polars as pl


def month_number(day: dt.date) -> int:
    """The month of ``day`` as a single integer, so windows are plain comparisons."""
    return day.year * 12 + day.month - 1


def month_start(number: int) -> dt.date:
    """First day of the month ``number`` (inverse of :func:`month_number`)."""
    return dt.date(number // 12, number % 12 + 1, 1)


def month_of(column: str) -> pl.Expr:
    """Month number of a date column."""
    return pl.col(column).dt.year().cast(pl.Int32) * 12 + pl.col(column).dt.month().cast(
        pl.Int32) - 1


def days_between(later: str | pl.Expr, earlier: str | pl.Expr) -> pl.Expr:
    """Whole days from ``earlier`` to ``later`` as Float64."""
    late = pl.col(later) if isinstance(later, str) else later
    early = pl.col(earlier) if isinstance(earlier, str) else earlier
    return (late - early).dt.total_days().cast(pl.Float64)
