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


def score_table(settings: Settings, model: Any, version: str, as_of: date) -> pl.DataFrame:
    """Every sponsor active on ``as_of`` scored by ``model`` (registered as ``version``)
    from the feature snapshot of that day: the table ``sponsorwatch score`` writes. Used
    by the scoring run and by the service when its champion differs from the snapshot's."""
    from sponsorwatch.storage import scan_warehouse
    from training.fitting.scoring import score_frame

    features = snapshot(settings, as_of)
    sponsors = scan_warehouse(settings.warehouse_dir)["sponsors"].collect()
    return score_frame(model, features, sponsors, capacity=settings.inspection_capacity,
                       model_version=str(version))


def run_scoring(settings: Settings, as_of: date, alias: str = "champion",
                out: Path | None = None) -> tuple[pl.DataFrame, Path, dict[str, Any]]:
    """Score every active sponsor as of ``as_of`` with the model behind ``alias``; write the
    ranked table to the score store (and ``out``)."""
    from training.fitting.scoring import write_scores
    from training.registry.loading import load_model

    model, info = load_model(settings, alias)
    table = score_table(settings, model, str(info["version"]), as_of)
    path = write_scores(table, settings.scores_dir, as_of, out)
    return table, path, info


def served_day(settings: Settings) -> date | None:
    """The day of the score snapshot the service serves (the latest), or None."""
    from training.fitting.scoring import score_dates

    days = score_dates(settings.scores_dir)
    return days[-1] if days else None


def rescore_served(settings: Settings, alias: str = "champion",
                   ) -> tuple[pl.DataFrame, Path, dict[str, Any]] | None:
    """Score the served snapshot's day again with the model behind ``alias`` (what
    ``sponsorwatch promote`` does after moving the champion, so that what is served comes
    from it); None when there is no score snapshot yet."""
    day = served_day(settings)
    return None if day is None else run_scoring(settings, day, alias)
