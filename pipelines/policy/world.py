"""The world a policy runs in: a simulated world whose planned inspections from the loop's
first year on are taken out (the policy brings its own), and the sponsor features that do
not depend on inspections, computed once for every snapshot day.

Only the history family (``past_inspections``, ``past_violations``, ``past_fines_eur``)
reads inspections, so only it is computed again with each policy's own inspections
(:func:`features_with_history`), and only for snapshot days from the loop's start (the
inspections before it are the same for every policy).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

from features.build import as_of_dates, build_features, prepare_history
from features.links import FEATURES as LINK_FEATURES
from features.registry import feature_names
from pipelines.policy.config import LoopConfig
from sponsorwatch.contract import TABLES
from sponsorwatch.history import current

#: The features computed from inspections: recomputed with the loop's own.
HISTORY_FEATURES: tuple[str, ...] = tuple(
    f.name for f in LINK_FEATURES if f.name.startswith("past_"))
#: Inspections a plan chooses; from the loop's start the world keeps only the others (TIP).
PLANNED = ("RANDOM", "RISK_BASED")
KEYS = ["sponsor_id", "as_of"]


@dataclass
class PolicyWorld:
    """One seed's world, ready for any policy."""

    seed: int
    #: The contract tables the features read (inspections as kept, see ``inspections``).
    prepared: dict[str, pl.LazyFrame]
    #: The world's inspections before the loop's first year, and its TIP inspections of
    #: every year (all versions).
    inspections: pl.DataFrame
    #: Planned inspections of the loop's years the world had drawn, now replaced.
    replaced_inspections: int
    truth: pl.DataFrame
    #: ``sponsor_id, recognition_ended_on`` as finally recorded (where an inspection may open).
    ends: pl.DataFrame
    #: The permits, for the fairness groups only (training.governance.groups).
    permits: pl.DataFrame
    thresholds: pl.DataFrame
    dates: list[date]
    #: Features of every snapshot day but the history family (``sponsor_id, as_of, ...``).
    base_features: pl.DataFrame
    #: History features of the days before the loop (the same for every policy).
    early_history: pl.DataFrame
    use_sector: bool
    #: Seconds spent drawing the world and building its features.
    seconds: dict[str, float]


def snapshot_days(config: LoopConfig) -> list[date]:
    """Snapshot days from ``first_snapshot`` to 1 January of the last loop year."""
    return as_of_dates(config.first_snapshot, date(config.last_year, 1, 1), config.every)


def planned_from(loop_start: date) -> pl.Expr:
    """True for the planned inspections opened from ``loop_start`` on (every version of an
    inspection shares its opening day and selection)."""
    return pl.col("selection").is_in(PLANNED) & (pl.col("opened_on") >= loop_start)


def build_policy_world(config: LoopConfig, seed: int) -> PolicyWorld:
    """Draw the world of ``seed`` and build its inspection-free features once."""
    import time

    from pipelines.simulate import generate_world
    from sponsorwatch.thresholds import load_thresholds

    clock = time.perf_counter()
    thresholds = load_thresholds()
    world = generate_world(config.sponsors, seed, config.world_start, config.world_end,
                           thresholds=thresholds)
    tables = world.tables
    drawn = time.perf_counter()
    planned = planned_from(config.loop_start)
    kept = tables["inspections"].filter(~planned)
    replaced = tables["inspections"].filter(planned)["inspection_id"].n_unique()
    prepared = prepare_history({name: frame.lazy() for name, frame in tables.items()
                                if name in TABLES})
    dates = snapshot_days(config)
    wanted = [n for n in feature_names(config.use_sector) if n not in HISTORY_FEATURES]
    base = pl.concat([build_features(prepared, day, thresholds, config.use_sector, wanted)
                      .collect() for day in dates])
    sponsors = current("sponsors", tables["sponsors"])
    policy_world = PolicyWorld(
        seed=seed, prepared=prepared, inspections=kept, replaced_inspections=int(replaced),
        truth=tables["truth"], ends=sponsors.select("sponsor_id", "recognition_ended_on"),
        permits=tables["permits"], thresholds=thresholds, dates=dates, base_features=base,
        early_history=pl.DataFrame(), use_sector=config.use_sector, seconds={})
    policy_world.early_history = history_features(
        policy_world, kept, [d for d in dates if d < config.loop_start])
    policy_world.seconds = {"world": drawn - clock, "features": time.perf_counter() - drawn}
    return policy_world


def history_features(world: PolicyWorld, inspections: pl.DataFrame,
                     dates: list[date]) -> pl.DataFrame:
    """The history family as of each day, from ``inspections`` (all versions so far),
    through the project's feature code (knowledge time included)."""
    schema = {"sponsor_id": pl.String, "as_of": pl.Date,
              **dict.fromkeys(HISTORY_FEATURES, pl.Float64)}
    if not dates:
        return pl.DataFrame(schema=schema)
    tables = {"sponsors": world.prepared["sponsors"],
              "inspections": prepare_history({"inspections": inspections.lazy()})
              ["inspections"]}
    return pl.concat([build_features(tables, day, world.thresholds, world.use_sector,
                                     HISTORY_FEATURES).collect() for day in dates])


def features_with_history(world: PolicyWorld, inspections: pl.DataFrame, until: date,
                          loop_start: date) -> pl.DataFrame:
    """Every feature of every snapshot day up to ``until``, the history family computed
    from ``inspections`` for the days from ``loop_start`` on."""
    late = [d for d in world.dates if loop_start <= d <= until]
    history = pl.concat([world.early_history, history_features(world, inspections, late)])
    return (world.base_features.filter(pl.col("as_of") <= until)
            .join(history, on=KEYS, how="left"))
