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
    """The feature snapshot as of a day: from the store where it was built from the current
    warehouse state and feature set; otherwise (missing or stale) built from the warehouse
    and stored."""
    from features.build import build_feature_history
    from features.store import (
        snapshot_manifest,
        snapshot_path,
        stale_snapshots,
        write_snapshot,
    )
    from sponsorwatch.storage import scan_warehouse
    from sponsorwatch.thresholds import load_thresholds

    # One state of the warehouse throughout, even if an ingest swaps in another meanwhile.
    warehouse = settings.warehouse_dir.resolve()
    manifest = snapshot_manifest(warehouse, settings.use_sector)
    path = snapshot_path(settings.features_dir, as_of)
    if path.exists() and not stale_snapshots(settings.features_dir, manifest, [as_of]):
        return pl.read_parquet(path)
    frame = build_feature_history(scan_warehouse(warehouse), [as_of],
                                  load_thresholds(settings.thresholds_file),
                                  settings.use_sector)
    assert frame is not None
    write_snapshot(settings.features_dir, frame, manifest)
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
