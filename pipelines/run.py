"""The stages end to end, as ``sponsorwatch demo`` runs them: simulate a world, ingest it,
build feature snapshots, train, promote, score. Each stage is a function reading and
writing under the home, so any of them can be rerun alone; progress is reported through
an optional callback ``(description, done, total)`` (total None for a step of unknown
length) so the CLI can draw rich progress bars.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sponsorwatch.settings import Settings

Progress = Callable[[str, int, int | None], None]

#: Simulated worlds run over these days (the simulator's defaults).
WORLD_START = date(2019, 1, 1)
WORLD_END = date(2025, 12, 31)
#: First feature snapshot: a year into the world, so every snapshot has history behind it.
FIRST_SNAPSHOT = date(2020, 1, 1)
#: The demo scores the last few snapshots with the champion.
SCORED_SNAPSHOTS = 3


def _quiet(_text: str, _done: int, _total: int | None) -> None:
    return None


def extract_dir(settings: Settings) -> Path:
    """Where the demo writes its simulated extract."""
    return settings.home / "extract"


def simulate_stage(settings: Settings, sponsors: int, seed: int,
                   progress: Progress = _quiet) -> Path:
    """Simulate a world of ``sponsors`` sponsors into the home's extract folder."""
    from pipelines.simulate import write_world
    from sponsorwatch.thresholds import load_thresholds

    out = extract_dir(settings)
    write_world(out, sponsors, seed, WORLD_START, WORLD_END,
                step=lambda label, done, total: progress(f"simulate: {label}", done, total),
                thresholds=load_thresholds(settings.thresholds_file))
    return out


def ingest_stage(settings: Settings, source: Path, run_gx: bool = True,
                 progress: Progress = _quiet) -> dict[str, Any]:
    """Validate the extract and merge it into the warehouse; returns the manifest."""
    from pipelines.ingest.pipeline import ingest, step_count

    total = step_count(run_gx)
    done = [0]

    def tick(text: str) -> None:
        progress(f"ingest: {text}", done[0], total)
        done[0] += 1

    result = ingest(source, settings.warehouse_dir, run_gx=run_gx, on_step=tick)
    progress("ingest: done", total, total)
    return result.manifest


def snapshot_dates(first: date = FIRST_SNAPSHOT, last: date = WORLD_END,
                   every: str = "quarter") -> list[date]:
    """Feature snapshot days: every quarter from ``first``, and ``last`` itself (the day
    the demo scores)."""
    from features.build import as_of_dates

    dates = as_of_dates(first, last, every)
    return dates if dates[-1] == last else [*dates, last]


def features_stage(settings: Settings, dates: list[date],
                   progress: Progress = _quiet) -> int:
    """Build and store one feature snapshot per day; returns how many."""
    from features.build import build_feature_history
    from features.store import snapshot_manifest, write_snapshot
    from sponsorwatch.storage import scan_warehouse
    from sponsorwatch.thresholds import load_thresholds

    warehouse = settings.warehouse_dir.resolve()  # one state, whatever ingest does meanwhile
    manifest = snapshot_manifest(warehouse, settings.use_sector)
    done = [0]

    def write(day: date, snapshot: Any) -> None:
        write_snapshot(settings.features_dir, snapshot, manifest)
        done[0] += 1
        progress(f"features: {day}", done[0], len(dates))

    progress("features: reading the warehouse", 0, len(dates))
    build_feature_history(scan_warehouse(warehouse), dates,
                          load_thresholds(settings.thresholds_file), settings.use_sector,
                          on_snapshot=write)
    return len(dates)


def train_stage(settings: Settings, until: date, plots: bool = True,
                progress: Progress = _quiet) -> str:
    """Train on every snapshot labelled by ``until``, log and register (alias
    challenger); returns the registered version."""
    from training.fitting.train import TrainConfig
    from training.jobs.train import run_training

    progress("train: fitting and evaluating", 0, None)
    config = TrainConfig(until=until, horizon_months=settings.horizon_months,
                         seed=settings.seed, capacity=settings.inspection_capacity)
    _, version = run_training(settings, config, experiment=settings.model_name, plots=plots)
    progress("train: registered", 1, 1)
    return str(version.version)


#: Who the demo names when it forces the first model of a fresh home into service (no
#: person runs that promotion; ``SPONSORWATCH_PROMOTED_BY`` names one instead).
DEMO_PROMOTER = "sponsorwatch demo (unattended)"


def promote_stage(settings: Settings, force_first: bool = True,
                  progress: Progress = _quiet) -> Any:
    """Run the promotion gates; the very first model of a fresh home is promoted even if a
    gate fails (there is nothing else to serve), with that reason recorded."""
    from training.registry.loading import load_model
    from training.registry.promotion import promote
    from training.registry.tracking import CHAMPION

    progress("promote: checking gates", 0, None)
    try:
        load_model(settings, CHAMPION)
        first = False
    except LookupError:
        first = True
    decision = promote(settings)
    if not decision.promoted and first and force_first:
        decision = promote(settings, force=True, by=settings.promoted_by or DEMO_PROMOTER,
                           reason="demo: first model of a fresh home, nothing else to serve")
    progress("promote: done", 1, 1)
    return decision


def score_stage(settings: Settings, as_of: date, progress: Progress = _quiet) -> Path:
    """Score every active sponsor as of ``as_of`` with the champion into the score store."""
    from training.jobs.score import run_scoring

    progress(f"score: {as_of}", 0, None)
    _, path, _ = run_scoring(settings, as_of)
    progress(f"score: {as_of}", 1, 1)
    return path


@dataclass
class DemoResult:
    """Where everything went."""

    extract: Path
    warehouse: Path
    snapshots: int
    model_version: str
    promoted: bool
    scores: list[Path]
    #: The promotion decision (gates, whether forced, by whom and why).
    decision: Any = None
    notes: list[str] = field(default_factory=list)


def run_demo(settings: Settings, sponsors: int, seed: int, run_gx: bool = True,
             plots: bool = True, progress: Progress = _quiet) -> DemoResult:
    """Every stage from a simulated world to a score snapshot ready to serve."""
    source = simulate_stage(settings, sponsors, seed, progress)
    ingest_stage(settings, source, run_gx, progress)
    dates = snapshot_dates()
    snapshots = features_stage(settings, dates, progress)
    version = train_stage(settings, WORLD_END, plots, progress)
    decision = promote_stage(settings, progress=progress)
    # A few snapshots, so sponsor pages show a score history.
    scores = [score_stage(settings, day, progress) for day in dates[-SCORED_SNAPSHOTS:]]
    return DemoResult(source, settings.warehouse_dir, snapshots, version, decision.promoted,
                      scores, decision=decision, notes=[decision.summary()])
