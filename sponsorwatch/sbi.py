"""SBI 2008, the Dutch standard industrial classification: its sections by the divisions
(first two digits of an activity code) they span. Reference data shared by the sector
features and the fairness audit's sector groups."""

from __future__ import annotations

import polars as pl

#: (first division, last division, section letter and short name), A to U in order.
SBI_SECTIONS: tuple[tuple[int, int, str], ...] = (
    (1, 3, "A agriculture"), (5, 9, "B mining"), (10, 33, "C manufacturing"),
    (35, 35, "D energy"), (36, 39, "E water and waste"), (41, 43, "F construction"),
    (45, 47, "G trade"), (49, 53, "H transport"), (55, 56, "I hospitality"),
    (58, 63, "J information and communication"), (64, 66, "K finance"),
    (68, 68, "L real estate"), (69, 75, "M professional and scientific"),
    (77, 82, "N business support"), (84, 84, "O public administration"),
    (85, 85, "P education"), (86, 88, "Q health and social work"), (90, 93, "R culture"),
    (94, 96, "S other services"), (97, 98, "T households"), (99, 99, "U extraterritorial"),
)

#: The first division of each section, so a code maps to A (1) .. U (21).
SBI_SECTION_STARTS: tuple[int, ...] = tuple(first for first, _, _ in SBI_SECTIONS)

#: The section of a code outside every section (or no code).
UNKNOWN_SECTION = "UNKNOWN"


def sbi_section(sbi_code: pl.Expr) -> pl.Expr:
    """SBI 2008 section (letter and short name) of an activity code."""
    division = sbi_code.str.slice(0, 2).cast(pl.Int32, strict=False)
    expr: pl.Expr = pl.lit(UNKNOWN_SECTION)
    for low, high, name in reversed(SBI_SECTIONS):
        expr = pl.when(division.is_between(low, high)).then(pl.lit(name)).otherwise(expr)
    return expr
