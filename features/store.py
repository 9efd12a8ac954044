"""The feature store: one Parquet file per as-of date and a manifest saying what made them.

Layout under ``features_dir``: ``as_of=YYYY-MM-DD/features.parquet`` and ``manifest.json``
(feature set version, feature names, the warehouse manifest the snapshots came from, and
the dates present). Every write is atomic (sponsorwatch.storage).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import polars as pl

from sponsorwatch.storage import write_json_atomic, write_parquet_atomic

MANIFEST = "manifest.json"


def snapshot_path(features_dir: Path, as_of: dt.date) -> Path:
    return features_dir / f"as_of={as_of.isoformat()}" / "features.parquet"


def write_snapshot(features_dir: Path, frame: pl.DataFrame, manifest: dict[str, Any]) -> Path:
    """Write the snapshot of one as-of date and merge its date into the manifest.

    Args:
        features_dir: the store's folder (Settings.features_dir).
        frame: one snapshot (a single ``as_of`` value).
        manifest: feature_set_version, feature_names, warehouse manifest, ...; a store
            holds one feature set version at a time, so a new version starts the date list
            afresh.

    Raises:
        ValueError: when the frame holds no or several as-of dates.
    """
    dates = frame.get_column("as_of").unique().to_list()
    if len(dates) != 1:
        raise ValueError(f"a snapshot holds exactly one as_of date, got {sorted(dates)}")
    as_of: dt.date = dates[0]
    path = snapshot_path(features_dir, as_of)
    write_parquet_atomic(frame, path)
    previous = read_store_manifest(features_dir)
    same_set = previous.get("feature_set_version") == manifest.get("feature_set_version")
    known = set(previous.get("as_of_dates", [])) if same_set else set()
    write_json_atomic({**manifest, "as_of_dates": sorted(known | {as_of.isoformat()})},
                      features_dir / MANIFEST)
    return path


def read_store_manifest(features_dir: Path) -> dict[str, Any]:
    """The store's manifest, or an empty dict where nothing has been written."""
    path = features_dir / MANIFEST
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def scan_snapshots(features_dir: Path, dates: Iterable[dt.date] | None = None) -> pl.LazyFrame:
    """Lazily scan stored snapshots (all, or those of ``dates``), stacked.

    Raises:
        FileNotFoundError: naming the folder or the missing dates.
    """
    if dates is None:
        paths = sorted(features_dir.glob("as_of=*/features.parquet"))
        if not paths:
            raise FileNotFoundError(
                f"{features_dir}: no feature snapshots; run `sponsorwatch features`")
    else:
        paths = [snapshot_path(features_dir, d) for d in dates]
        missing = [p.parent.name for p in paths if not p.exists()]
        if missing:
            raise FileNotFoundError(f"{features_dir}: no snapshot for {', '.join(missing)}")
    return pl.scan_parquet(paths)
