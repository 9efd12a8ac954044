"""Writing a world: Parquet per table, payroll and workforce in parts, atomically."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from pipelines.simulate.world import (
    CHUNKED_TABLES,
    DEFAULT_END,
    DEFAULT_START,
    Step,
    World,
    _no_step,
    generate_world,
)
from sponsorwatch.storage import atomic_directory


def _write(frame: pl.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(path, compression="zstd", statistics=True)


def write_world(out_dir: Path, n_sponsors: int, seed: int, start: date = DEFAULT_START,
                end: date = DEFAULT_END, *, step: Step = _no_step,
                thresholds: pl.DataFrame | None = None) -> World:
    """Simulate a world and write it to ``out_dir`` (replaced whole, atomically).

    Writes ``<table>.parquet`` for sponsors, sponsor_officers, permits, notifications,
    inspections and truth; ``payroll/part-NNN.parquet`` and ``workforce/part-NNN.parquet``
    (one part per chunk of sponsors); ``calibration.md`` and ``calibration.json``.
    Returns the world without the chunked tables (they are on disk only).
    """
    from pipelines.simulate.report import calibration, render_markdown
    from sponsorwatch.storage import write_json_atomic, write_text_atomic

    out_dir = Path(out_dir)
    with atomic_directory(out_dir) as staging:
        counts = {name: 0 for name in CHUNKED_TABLES}

        def sink(name: str, chunk: int, frame: pl.DataFrame) -> None:
            counts[name] += frame.height
            _write(frame, staging / name / f"part-{chunk:03d}.parquet")

        world = generate_world(n_sponsors, seed, start, end, on_chunk=sink, step=step,
                               thresholds=thresholds)
        for name, frame in world.tables.items():
            _write(frame, staging / f"{name}.parquet")
        report = calibration(world, n_sponsors=n_sponsors, seed=seed, start=start, end=end,
                             row_counts={**{k: v.height for k, v in world.tables.items()},
                                         **counts})
        write_json_atomic(report, staging / "calibration.json")
        staging.chmod(0o755)  # mkdtemp makes it private; a world is meant to be shared
        write_text_atomic(render_markdown(report), staging / "calibration.md")
    return world
