"""A scoring run: every active sponsor as of a day, scored by a registered model into the
score store.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from sponsorwatch.settings import Settings


def snapshot(settings: Settings, as_of: date) -> pl.DataFrame:
    """The feature snapshot as of a day: from the store, or built from the warehouse and
    stored when missing."""
    from features.build import build_feature_history
    from features.registry import FEATURE_SET_VERSION, feature_names
    from features.store import snapshot_path, write_snapshot
    from sponsorwatch.storage import read_manifest, scan_warehouse
    from sponsorwatch.thresholds import load_thresholds

    path = snapshot_path(settings.features_dir, as_of)
    if path.exists():
        return pl.read_parquet(path)
    frame = build_feature_history(scan_warehouse(settings.warehouse_dir), [as_of],
                                  load_thresholds(settings.thresholds_file),
                                  settings.use_sector)
    assert frame is not None
    write_snapshot(settings.features_dir, frame, {
        "feature_set_version": FEATURE_SET_VERSION,
        "feature_names": feature_names(settings.use_sector),
        "use_sector": settings.use_sector,
        "warehouse_manifest": read_manifest(settings.warehouse_dir)})
    return frame


def run_scoring(settings: Settings, as_of: date, alias: str = "champion",
                out: Path | None = None) -> tuple[pl.DataFrame, Path, dict[str, Any]]:
    """Score every active sponsor as of ``as_of`` with the model behind ``alias``; write the
    ranked table to the score store (and ``out``)."""
    from sponsorwatch.storage import scan_warehouse
    from training.fitting.scoring import score_frame, write_scores
    from training.registry.loading import load_model

    model, info = load_model(settings, alias)
    features = snapshot(settings, as_of)
    sponsors = scan_warehouse(settings.warehouse_dir)["sponsors"].collect()
    table = score_frame(model, features, sponsors, capacity=settings.inspection_capacity,
                        model_version=str(info["version"]))
    path = write_scores(table, settings.scores_dir, as_of, out)
    return table, path, info
