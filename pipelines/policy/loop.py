"""The closed loop, year by year, for every policy on one seed's world; seeds in parallel.

For each year: features as of 1 January (the history family from the policy's own
inspections), a ranking (the champion's scores, or the crude rule's points), a plan
(``training.planning.design``), its inspections resolved against the truth
(:mod:`.inspect`), the versions recorded by 1 January of the next year delivered to the
warehouse through ingest's checks (:mod:`.feedback`), then (model policies) a challenger
trained on the warehouse as it stands and promoted only where it beats the champion
(:mod:`.model`). All policies of a seed share the world, its features, the first
champion (trained on the world's own inspections before the loop) and the inspection-quality
study (:mod:`.quality`: sensitivity and false-finding rate of the world's RANDOM inspections
before the loop) that corrects each year's violation-rate estimate into an abuse-rate one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import polars as pl

from pipelines.policy.config import LoopConfig, Policy
from pipelines.policy.feedback import InspectionWarehouse
from pipelines.policy.inspect import fined_before, opening_days, resolve_plan
from pipelines.policy.metrics import truth_at_open, year_metrics
from pipelines.policy.model import Training, gate, train_challenger
from pipelines.policy.quality import inspection_quality
from pipelines.policy.world import PolicyWorld, build_policy_world, features_with_history
from sponsorwatch.history import current
from training.fitting.crude_rule import crude_rule_score
from training.governance.groups import restricted_attributes
from training.planning.design import build_inspection_plan, default_plan_id, planned_inspections

#: Called with a line of progress.
Say = Callable[[str], None]


def _quiet(_line: str) -> None:
    return None


@dataclass
class PolicyRun:
    """One policy on one seed: a row of figures per year, the trainings, the timings."""

    policy: str
    ranking: str
    random_share: float
    seed: int
    years: list[dict[str, Any]] = field(default_factory=list)
    trainings: list[dict[str, Any]] = field(default_factory=list)
    replaced_inspections: int = 0
    deliveries: list[dict[str, int]] = field(default_factory=list)
    #: The warehouse's inspections at the end (kept only where asked, for tests).
    inspections: pl.DataFrame | None = None
    plans: list[pl.DataFrame] = field(default_factory=list)


@dataclass
class SeedRun:
    seed: int
    runs: list[PolicyRun]
    seconds: dict[str, Any]
    #: The seed's world (kept only where asked, for tests).
    world: PolicyWorld | None = None
    #: The inspection-quality study every policy's abuse-rate estimate is corrected with
    #: (:func:`pipelines.policy.quality.inspection_quality`).
    quality: dict[str, Any] = field(default_factory=dict)


def rank(frame: pl.DataFrame, scores: np.ndarray, day: date) -> pl.DataFrame:
    """``sponsor_id, as_of, score, rank`` (1 = riskiest; ties by sponsor id)."""
    return (frame.select("sponsor_id").with_columns(pl.Series("score", scores, pl.Float64),
                                                    as_of=pl.lit(day))
            .sort(["score", "sponsor_id"], descending=[True, False])
            .with_row_index("rank", offset=1).with_columns(pl.col("rank").cast(pl.Int64))
            .select("sponsor_id", "as_of", "score", "rank"))


def _training_row(training: Training, year: int) -> dict[str, Any]:
    return {"year": year, "until": str(training.until), "promoted": training.promoted,
            "error": training.error, "seconds": round(training.seconds, 2),
            **training.numbers}


def _truth_at_open(world: PolicyWorld, ranked: pl.DataFrame, year: int,
                   config: LoopConfig, cache: dict[int, pl.DataFrame]) -> pl.DataFrame:
    """Abuse on the day each scored sponsor's inspection would open (the same for every
    policy: the draws are common, and every policy scores the same sponsors)."""
    if year not in cache:
        cache[year] = truth_at_open(world.truth, opening_days(
            ranked, year, world.seed, world.ends, config.world_end))
    return cache[year]


def run_policy(world: PolicyWorld, policy: Policy, champion: Any, config: LoopConfig,
               quality: dict[str, Any], keep_tables: bool = False, say: Say = _quiet,
               at_open: dict[int, pl.DataFrame] | None = None) -> tuple[PolicyRun, dict]:
    """Run one policy through every year of the loop; (its run, seconds per year).
    ``quality`` is the seed's inspection-quality study."""
    at_open = {} if at_open is None else at_open
    seed = world.seed
    run = PolicyRun(policy.name, policy.ranking, policy.random_share, seed,
                    replaced_inspections=world.replaced_inspections)
    warehouse = InspectionWarehouse.start(world.inspections, world.ends["sponsor_id"])
    hidden_by_year: dict[int, tuple[date, pl.DataFrame, pl.DataFrame, pl.DataFrame]] = {}
    seconds: dict[int, float] = {}
    for year in config.loop_years:
        clock = time.perf_counter()
        day = date(year, 1, 1)
        features = features_with_history(world, warehouse.clean, day, config.loop_start)
        frame = features.filter(pl.col("as_of") == day)
        scores = (champion.predict(frame) if policy.ranking == "model"
                  else crude_rule_score(frame))
        ranked = rank(frame, scores, day)
        plan_seed = seed * 10_000 + year
        plan, _ = build_inspection_plan(ranked, config.capacity_for(ranked.height),
                                        policy.random_share, plan_seed,
                                        default_plan_id(day, plan_seed))
        versions, hidden = resolve_plan(
            planned_inspections(plan), year, seed, world.truth, world.ends,
            fined_before(warehouse.clean), config.world_end, f"P{year}{policy.name[:1].upper()}"
            f"{round(policy.random_share * 100):02d}-")
        last = year == config.last_year
        delivery = warehouse.deliver(versions, None if last else date(year + 1, 1, 1))
        run.deliveries.append({"year": year, **{k: v for k, v in vars(delivery).items()
                                                if k != "broken"}})
        hidden_by_year[year] = (day, ranked, plan, hidden)
        if keep_tables:
            run.plans.append(plan)
        if policy.retrains and not last:
            until = date(year + 1, 1, 1)
            features = features_with_history(world, warehouse.clean, until, config.loop_start)
            training, data, result = train_challenger(features, warehouse.clean, until,
                                                      world.truth, config, seed)
            if result is not None:
                gate(training, data, result, champion, config)
                if training.promoted:
                    champion = training.model
            run.trainings.append(_training_row(training, year + 1))
        seconds[year] = time.perf_counter() - clock
        say(f"seed {seed} {policy.name} {year}: {seconds[year]:.1f} s")
    outcomes = current("inspections", warehouse.clean).select(
        "inspection_id", pl.when(pl.col("closed_on").is_not_null()).then(pl.col("outcome"))
        .alias("outcome"))
    for year, (day, ranked, plan, hidden) in hidden_by_year.items():
        groups = restricted_attributes(world.permits.lazy(), day).collect().select(
            "sponsor_id", "nationality_mix")
        row = year_metrics(day, ranked, plan, hidden, outcomes, world.truth, groups,
                           config.top_k, quality,
                           _truth_at_open(world, ranked, year, config, at_open))
        row["seconds"] = round(seconds[year], 2)
        run.years.append(row)
    if keep_tables:
        run.inspections = warehouse.clean
    return run, seconds


def run_seed(config: LoopConfig, seed: int, keep_tables: bool = False,
             say: Say = _quiet) -> SeedRun:
    """Every policy of ``config`` on the world of ``seed``."""
    clock = time.perf_counter()
    world = build_policy_world(config, seed)
    say(f"seed {seed}: world {world.seconds['world']:.1f} s, features "
        f"{world.seconds['features']:.1f} s")
    # The inspection-quality study: the world's RANDOM inspections before the loop
    # against the truth (the same for every policy).
    quality = inspection_quality(world.inspections, world.truth, config.loop_start)
    say(f"seed {seed}: inspection quality s={quality['sensitivity']} "
        f"({quality['abusive_inspected']} abusive), f={quality['false_finding_rate']} "
        f"({quality['clean_inspected']} clean)")
    policies = config.policies()
    champion, first = None, None
    if any(p.retrains for p in policies):
        features = features_with_history(world, world.inspections, config.loop_start,
                                         config.loop_start)
        first, data, result = train_challenger(features, world.inspections, config.loop_start,
                                               world.truth, config, seed)
        if result is None:
            raise ValueError(f"seed {seed}: the first champion cannot be trained as of "
                             f"{config.loop_start}: {first.error}")
        champion = gate(first, data, result, None, config).model
        say(f"seed {seed}: first champion {first.seconds:.1f} s")
    runs, per_policy, at_open = [], {}, {}
    for policy in policies:
        run, seconds = run_policy(world, policy, champion, config, quality, keep_tables, say,
                                  at_open)
        if first is not None and policy.retrains:
            run.trainings.insert(0, _training_row(first, config.first_year))
        runs.append(run)
        per_policy[policy.name] = {str(y): round(s, 2) for y, s in seconds.items()}
    return SeedRun(seed, runs, {
        "world": round(world.seconds["world"], 2),
        "features": round(world.seconds["features"], 2),
        "first_champion": round(first.seconds, 2) if first is not None else None,
        "per_policy_year": per_policy, "total": round(time.perf_counter() - clock, 2)},
        world if keep_tables else None, quality)


def _run_seed_quietly(args: tuple[LoopConfig, int]) -> SeedRun:
    return run_seed(*args)


def run_policy_simulation(config: LoopConfig, keep_tables: bool = False,
                          say: Say = _quiet) -> list[SeedRun]:
    """Every seed of ``config``, ``config.workers`` at a time (in separate processes where
    more than one), in seed order."""
    if config.workers <= 1 or len(config.seeds) == 1:
        return [run_seed(config, s, keep_tables, say) for s in config.seeds]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    done: list[SeedRun] = []
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(config.workers, len(config.seeds)),
                             mp_context=context) as pool:
        for result in pool.map(_run_seed_quietly, [(config, s) for s in config.seeds]):
            say(f"seed {result.seed}: done in {result.seconds['total']:.0f} s")
            done.append(result)
    return done
