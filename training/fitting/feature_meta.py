"""The model's inputs as the feature registry describes them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FeatureMeta:
    """The model's inputs with their descriptions and risk directions."""

    names: list[str]
    descriptions: dict[str, str]
    directions: dict[str, int]
    version: str


def feature_meta(use_sector: bool) -> FeatureMeta:
    from features.registry import FEATURE_SET_VERSION, FEATURES, feature_names

    names = feature_names(use_sector)
    return FeatureMeta(names, {n: FEATURES[n].description for n in names},
                       {n: int(FEATURES[n].direction) for n in names}, FEATURE_SET_VERSION)
