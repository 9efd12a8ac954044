"""Evaluation against a simulated world's ground truth.

The truth table is read only here (and by benchmarks that call this module), never by
feature building or model fitting: it arrives as an explicit path, or is found beside the
extract the warehouse was ingested from.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

TRUTH_FILE = "truth.parquet"


def find_truth(warehouse_dir: Path, explicit: Path | None = None) -> Path | None:
    """The truth file to evaluate against: ``explicit`` when given (must exist), else
    ``truth.parquet`` beside the extract named in the warehouse manifest, else None.

    Raises:
        FileNotFoundError: when an explicit path does not exist.
    """
    if explicit is not None:
        if not explicit.exists():
            raise FileNotFoundError(f"{explicit}: truth file not found")
        return explicit
    manifest = warehouse_dir / "manifest.json"
    if not manifest.exists():
        return None
    import json

    payload = json.loads(manifest.read_text(encoding="utf-8"))
    source = payload.get("extract_path") or payload.get("source")
    if isinstance(source, dict):
        source = source.get("path") or source.get("folder")
    if not source:
        return None
    candidate = Path(str(source)) / TRUTH_FILE
    return candidate if candidate.exists() else None


def load_truth(path: Path) -> pl.DataFrame:
    """``sponsor_id, is_abusive, abuse_from`` of a simulated world."""
    return pl.read_parquet(path, columns=["sponsor_id", "is_abusive", "abuse_from"])


def truth_targets(truth: pl.DataFrame, rows: pl.DataFrame) -> np.ndarray:
    """1 where the row's sponsor was abusing on or before the row's ``as_of``, else 0.

    Abuse that starts after T leaves no trace in features as of T, so it does not count as a
    miss of a ranking made on T. Sponsors absent from the truth table count as honest.
    """
    joined = rows.select("sponsor_id", "as_of").join(truth, on="sponsor_id", how="left",
                                                   maintain_order="left")
    positive = (pl.col("is_abusive").fill_null(False)
                & pl.col("abuse_from").is_not_null()
                & (pl.col("abuse_from") <= pl.col("as_of")))
    return joined.select(positive.cast(pl.Float64)).to_series().to_numpy()
