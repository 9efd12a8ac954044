"""What a feature is: a named column with a description, a unit and a risk direction.

Kept apart from :mod:`features.registry` so each family module can declare its features
without importing the registry that collects them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Direction = Literal[-1, 0, 1]


@dataclass(frozen=True)
class Feature:
    """One feature column.

    Attributes:
        name: column name in every snapshot.
        family: the module that computes it.
        description: one line, reused by reasons in scores and by docs/features.md.
        unit: what a value counts (``share``, ``months``, ``euro``, ``count``, ...).
        direction: +1 higher is riskier, -1 lower is riskier, 0 no constraint.
        fill: value for sponsors with nothing to count (0 for counts); None keeps null,
            meaning "undefined" (a share of nothing).
        sector: True for the features switched off by ``Settings.use_sector``.
    """

    name: str
    family: str
    description: str
    unit: str
    direction: Direction
    fill: float | None = None
    sector: bool = False
