"""Point-in-time sponsor features in polars.

Public interface (docs/architecture.md):
- ``features.registry``: ``FEATURES`` (name -> Feature with description, unit, direction),
  ``feature_names(use_sector)``, ``FEATURE_SET_VERSION``, ``features_markdown()``;
- ``features.pit.known_as_of(tables, as_of)``: what was known on day T;
- ``features.build.build_features(tables, as_of, thresholds, use_sector=True)``: one lazy
  snapshot; ``build_feature_history(tables, dates, thresholds)`` for many dates;
- ``features.store``: ``write_snapshot`` / ``scan_snapshots``.
"""
