"""The feature store: one Parquet file per as-of date and a manifest saying what made them.

Layout under ``features_dir``: ``as_of=YYYY-MM-DD/features.parquet`` and ``manifest.json``
(feature set version, feature names, the warehouse manifest of the last write, the dates
present, and under ``snapshots`` what built each date: the warehouse state, feature set
version and sector switch). A snapshot built from another warehouse state or feature set
is stale (:func:`stale_snapshots`): scoring rebuilds it, training refuses it. Every write
is atomic (sponsorwatch.storage).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from sponsorwatch.storage import read_manifest, write_json_atomic, write_parquet_atomic

MANIFEST = "manifest.json"
#: What decides whether a stored snapshot may be reused.
PROVENANCE = ("warehouse", "feature_set_version", "use_sector")


class StaleSnapshotsError(ValueError):
    """Stored snapshots were built from another warehouse state or feature set."""


def warehouse_state(warehouse_manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The identity of a warehouse: a hash of its whole manifest (any ingest, even of the
    same extract, writes a new one), with when and from what it was ingested to read."""
    canonical = json.dumps(warehouse_manifest, sort_keys=True, separators=(",", ":"),
                           default=str)
    return {"manifest_sha256": hashlib.sha256(canonical.encode()).hexdigest()[:16],
            "ingested_at": warehouse_manifest.get("ingested_at"),
            "extract": warehouse_manifest.get("extract")}


def snapshot_manifest(warehouse_dir: Path, use_sector: bool) -> dict[str, Any]:
    """What snapshots built now from ``warehouse_dir`` are made of (the ``manifest`` of
    :func:`write_snapshot`): this feature set, the switch and the warehouse's manifest."""
    from features.registry import FEATURE_SET_VERSION, feature_names

    return {"feature_set_version": FEATURE_SET_VERSION,
            "feature_names": feature_names(use_sector), "use_sector": use_sector,
            "warehouse_manifest": read_manifest(warehouse_dir)}


def provenance(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The record kept per snapshot: the warehouse state (None where no warehouse manifest
    is given), the feature set version and the sector switch."""
    warehouse = manifest.get("warehouse_manifest")
    return {"warehouse": warehouse_state(warehouse) if warehouse is not None else None,
            "feature_set_version": manifest.get("feature_set_version"),
            "use_sector": manifest.get("use_sector")}


def snapshot_path(features_dir: Path, as_of: dt.date) -> Path:
    return features_dir / f"as_of={as_of.isoformat()}" / "features.parquet"


def write_snapshot(features_dir: Path, frame: pl.DataFrame, manifest: dict[str, Any]) -> Path:
    """Write the snapshot of one as-of date and merge its date into the manifest.

    Args:
        features_dir: the store's folder (Settings.features_dir).
        frame: one snapshot (a single ``as_of`` value).
        manifest: feature_set_version, feature_names, use_sector, warehouse_manifest (as
            :func:`snapshot_manifest` gives them); a store holds one feature set version at
            a time, so a new version starts the date list afresh. What built the snapshot
            (:func:`provenance`) is recorded under ``snapshots`` for its date.

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
    built = {**previous.get("snapshots", {}), as_of.isoformat(): {
        **provenance(manifest), "written_at": dt.datetime.now(dt.UTC).isoformat(
            timespec="seconds")}}
    write_json_atomic({**manifest, "as_of_dates": sorted(known | {as_of.isoformat()}),
                       "snapshots": dict(sorted(built.items()))}, features_dir / MANIFEST)
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


def stored_dates(features_dir: Path) -> list[dt.date]:
    """The as-of dates of every snapshot file in the store."""
    return sorted(dt.date.fromisoformat(p.parent.name.removeprefix("as_of="))
                  for p in features_dir.glob("as_of=*/features.parquet"))


def stale_snapshots(features_dir: Path, manifest: Mapping[str, Any],
                    dates: Iterable[dt.date] | None = None) -> dict[dt.date, str]:
    """Stored snapshots (all, or those of ``dates`` that exist) not built from what
    ``manifest`` describes (:func:`snapshot_manifest`), each with the reason."""
    wanted = provenance(manifest)
    records = read_store_manifest(features_dir).get("snapshots", {})
    days = stored_dates(features_dir) if dates is None else [
        d for d in dates if snapshot_path(features_dir, d).exists()]
    stale: dict[dt.date, str] = {}
    for day in days:
        record = records.get(day.isoformat())
        if record is None:
            stale[day] = "no record of the warehouse and feature set that built it"
            continue
        reasons = [_difference(key, record.get(key), wanted[key]) for key in PROVENANCE
                   if record.get(key) != wanted[key]
                   # A snapshot with the sector features serves a model without them.
                   and not (key == "use_sector" and record.get(key) is True)]
        if reasons:
            stale[day] = "; ".join(reasons)
    return stale


def _difference(key: str, was: Any, now: Any) -> str:
    if key == "warehouse":
        return f"built from another warehouse state ({_ingest(was)}; now {_ingest(now)})"
    if key == "feature_set_version":
        return f"built by feature set {was}, now {now}"
    return f"built with use_sector={was}, now {now}"


def _ingest(state: Mapping[str, Any] | None) -> str:
    if state is None:
        return "unknown"
    return (f"ingested {state.get('ingested_at') or '?'} from {state.get('extract') or '?'}, "
            f"manifest {state.get('manifest_sha256')}")


def rebuild_commands(dates: Sequence[dt.date]) -> list[str]:
    """``sponsorwatch features`` commands that build exactly ``dates``: runs a month or a
    quarter apart as ``--from --to``, the others one ``--as-of`` each."""
    from features.build import as_of_dates

    days = sorted(set(dates))
    commands: list[str] = []
    i = 0
    while i < len(days):
        end, step = i, "month"
        for every in ("month", "quarter"):
            series = as_of_dates(days[i], days[-1], every)
            run = 0
            while i + run < len(days) and run < len(series) and series[run] == days[i + run]:
                run += 1
            if i + run - 1 > end:
                end, step = i + run - 1, every
        if end == i:
            commands.append(f"sponsorwatch features --as-of {days[i]}")
        else:
            every_flag = "" if step == "month" else " --every quarter"
            commands.append(f"sponsorwatch features --from {days[i]} --to {days[end]}"
                            + every_flag)
        i = end + 1
    return commands


def check_snapshots(features_dir: Path, manifest: Mapping[str, Any],
                    dates: Iterable[dt.date] | None = None) -> None:
    """Refuse stale snapshots (see :func:`stale_snapshots`).

    Raises:
        StaleSnapshotsError: naming the stale dates, why, and the commands that rebuild them.
    """
    stale = stale_snapshots(features_dir, manifest, dates)
    if not stale:
        return
    shown = "; ".join(f"{day}: {why}" for day, why in list(stale.items())[:3])
    more = f" (and {len(stale) - 3} more)" if len(stale) > 3 else ""
    commands = " and ".join(f"`{c}`" for c in rebuild_commands(list(stale)))
    raise StaleSnapshotsError(
        f"{features_dir}: {len(stale)} feature snapshot(s) are stale, not built from the "
        f"current warehouse and feature set {manifest.get('feature_set_version')}: {shown}"
        f"{more}. Rebuild them with {commands}.")
