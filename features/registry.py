"""Every feature in one place: names, descriptions, units and risk directions.

Reasons in scores and ``docs/features.md`` are generated from here, so a feature is
described exactly once, next to the code that computes it (one module per family).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from types import ModuleType

import polars as pl

from features import filing, links, notifications, profile, salary, turnover
from features.context import Context
from features.spec import Direction, Feature

__all__ = ["FAMILIES", "FEATURES", "FEATURE_SET_VERSION", "Direction", "Family", "Feature",
           "feature_names", "features_markdown"]

#: Bump when a feature is added, removed or its meaning changes; stored with every snapshot.
FEATURE_SET_VERSION = "fs-2"


@dataclass(frozen=True)
class Family:
    """A feature family: its features and the function computing them per sponsor."""

    name: str
    doc: str
    features: tuple[Feature, ...]
    #: (context, feature names wanted) -> sponsor_id and those of the family's features
    compute: Callable[[Context, Collection[str]], pl.LazyFrame]


def _family(module: ModuleType) -> Family:
    doc = (module.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
    return Family(module.FAMILY, doc, module.FEATURES, module.compute)


FAMILIES: tuple[Family, ...] = tuple(
    _family(m) for m in (salary, turnover, filing, notifications, profile, links))

FEATURES: dict[str, Feature] = {f.name: f for family in FAMILIES for f in family.features}


def feature_names(use_sector: bool = True) -> list[str]:
    """Feature columns in snapshot order; sector features only where allowed."""
    return [f.name for f in FEATURES.values() if use_sector or not f.sector]


_DIRECTION_TEXT = {1: "higher = riskier", -1: "lower = riskier", 0: "none"}


def features_markdown() -> str:
    """The text of docs/features.md, generated from the registry."""
    lines = [
        "# Features",
        "",
        f"Feature set `{FEATURE_SET_VERSION}`: {len(FEATURES)} features in "
        f"{len(FAMILIES)} families. Generated from `features/registry.py` by "
        "`features.registry.features_markdown()`; do not edit by hand.",
        "",
        "Every feature of sponsor S as of day T uses only records the service had on T "
        "(`features/pit.py`). Values are Float64; empty means undefined (for example a "
        "share of nothing). Direction: the sign of the risk a higher value carries "
        "(+1 higher = riskier, -1 lower = riskier, 0 none).",
        "",
    ]
    for family in FAMILIES:
        lines += [f"## {family.name}", "", family.doc, "",
                  "| feature | description | unit | direction |", "|---|---|---|---|"]
        for f in family.features:
            note = " (only with `use_sector`)" if f.sector else ""
            lines.append(f"| `{f.name}` | {f.description}{note} | {f.unit} | "
                         f"{f.direction:+d} ({_DIRECTION_TEXT[f.direction]}) |")
        lines.append("")
    return "\n".join(lines)
