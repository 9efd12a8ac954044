"""Simulated worlds for the monitor, with a change injected after a date, and the monitor run
over their monthly snapshots. Shared by the tests and ``benchmarks/bench_monitor.py``.

The timeline: the reference window (the champion's training snapshots) is the 12 month ends
of 2022; the monitor runs on the 24 month ends of 2023 and 2024; a change takes effect on
:data:`CHANGE_DAY` (2024-01-01), so the first snapshot after it is 2024-01-31.

Changes:
- ``threshold_step``: the salary criterion table lacks its 2024-01-01 rows (the yearly step);
- ``sector_shock``: hiring in section J (information and communication) stops: its sponsors'
  applications submitted from the change on are gone, with their migrants' payroll;
- ``payroll_empty``: payroll filings received from the change on carry ``hours_paid`` empty.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl

CHANGES = ("threshold_step", "sector_shock", "payroll_empty")
CHANGE_DAY = dt.date(2024, 1, 1)
SHOCK_SECTION = "J information and communication"


def month_ends(first_year: int, first_month: int, count: int) -> list[dt.date]:
    """``count`` month ends from the month given on."""
    out = []
    for i in range(count):
        index = first_month + i  # the month after, 1-based, counted from first_year
        year, month = first_year + index // 12, index % 12 + 1
        out.append(dt.date(year, month, 1) - dt.timedelta(days=1))
    return out


REFERENCE_DATES = month_ends(2022, 1, 12)
MONITOR_DATES = month_ends(2023, 1, 24)
FIRST_AFTER_CHANGE = dt.date(2024, 1, 31)


def inject(tables: dict[str, pl.DataFrame], thresholds: pl.DataFrame, change: str | None,
           day: dt.date = CHANGE_DAY) -> tuple[dict[str, pl.DataFrame], pl.DataFrame]:
    """The world's tables and the criterion table with ``change`` injected from ``day``."""
    tables = dict(tables)
    if change is None:
        return tables, thresholds
    if change == "threshold_step":
        return tables, thresholds.filter(pl.col("valid_from") != dt.date(day.year, 1, 1))
    if change == "payroll_empty":
        tables["payroll"] = tables["payroll"].with_columns(
            hours_paid=pl.when(pl.col("filed_on") >= day).then(None)
            .otherwise(pl.col("hours_paid")))
        return tables, thresholds
    if change == "sector_shock":
        from training.monitoring.inputs import section_of_sponsors

        sector = section_of_sponsors(tables["sponsors"])
        shocked = set(sector.filter(pl.col("sector") == SHOCK_SECTION)["sponsor_id"])
        gone = tables["permits"].filter(pl.col("sponsor_id").is_in(list(shocked))
                                        & (pl.col("submitted_on") >= day))
        tables["permits"] = tables["permits"].join(gone.select("application_id"),
                                                   on="application_id", how="anti")
        pairs = gone.group_by("sponsor_id", "person_key").agg(pl.col("submitted_on").min())
        for name, when in (("payroll", "period"), ("notifications", "event_on")):
            frame = tables[name].with_row_index("__row")
            drop = (frame.join(pairs, on=["sponsor_id", "person_key"])
                    .filter(pl.col(when) >= pl.col("submitted_on")).select("__row"))
            tables[name] = frame.join(drop, on="__row", how="anti").drop("__row")
        return tables, thresholds
    raise ValueError(f"unknown change {change!r}; one of {CHANGES}")


def stand_in_scorer(reference: pl.DataFrame, inspections: pl.DataFrame,
                    features: list[str]) -> Callable[[pl.DataFrame], np.ndarray]:
    """What the champion is to the monitor: a function from feature rows to probabilities.
    Here a regularised logistic regression fitted on the reference snapshots' labels (the
    contract's), its intercept then moved so that its mean on the RANDOM-labelled rows is
    their violation rate (plus a half, over one more): scores are probabilities of a
    violation found by a random inspection, as the served model's are meant to be."""
    from scipy.special import expit
    from sklearn.linear_model import LogisticRegression

    from training.fitting.labels import build_labels

    labels = build_labels(inspections.lazy(), REFERENCE_DATES, 12).collect()
    frame = reference.join(labels.filter(pl.col("label").is_not_null()),
                           on=["sponsor_id", "as_of"])
    medians = reference.select(pl.col(features).median()).row(0, named=True)

    def matrix(rows: pl.DataFrame) -> np.ndarray:
        x = rows.select(pl.col(f).fill_nan(None).fill_null(medians[f] or 0.0)
                        for f in features).to_numpy()
        return np.clip(x, -1e6, 1e6)

    x = matrix(frame)
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-9
    model = LogisticRegression(C=0.05, max_iter=1000).fit((x - mean) / std,
                                                          frame["label"].to_numpy())
    random = frame.filter(pl.col("selection") == "RANDOM")
    rate = (float(random["label"].sum()) + 0.5) / (random.height + 1)
    margins = model.decision_function((matrix(random) - mean) / std)
    low, high = -20.0, 20.0
    for _ in range(60):  # the shift whose mean probability on the RANDOM rows is the rate
        shift = (low + high) / 2
        if np.mean(expit(margins + shift)) > rate:
            high = shift
        else:
            low = shift

    def score(rows: pl.DataFrame) -> np.ndarray:
        return expit(model.decision_function((matrix(rows) - mean) / std) + shift)

    return score


def world_snapshots(n_sponsors: int, seed: int, change: str | None,
                    monitored: list[dt.date] | None = None,
                    ) -> tuple[pl.DataFrame, dict[str, pl.DataFrame], pl.DataFrame]:
    """(feature snapshots of the reference and ``monitored`` dates (default: all 24), the
    tables, the criterion table) of a simulated world with ``change`` injected."""
    from features.build import build_feature_history
    from pipelines.simulate.world import simulate_world
    from sponsorwatch.thresholds import load_thresholds

    world = simulate_world(n_sponsors, seed)
    tables, thresholds = inject({k: v for k, v in world.items()}, load_thresholds(), change)
    features = build_feature_history({k: v.lazy() for k, v in tables.items() if k != "truth"},
                                     REFERENCE_DATES + (monitored or MONITOR_DATES),
                                     thresholds, False)
    assert features is not None
    return features, tables, thresholds


def run_monitor(features: pl.DataFrame, tables: dict[str, pl.DataFrame],
                thresholds: pl.DataFrame, **overrides: Any) -> list[dict[str, Any]]:
    """The monitor's report for every monitored month end in ``features`` (each against the
    one before), the scores coming from a stand-in model fitted on the reference window."""
    from training.monitoring.report import MonitorInputs, Thresholds, monitor_snapshot

    names = [c for c in features.columns if c not in ("sponsor_id", "as_of")]
    reference = features.filter(pl.col("as_of").is_in(REFERENCE_DATES))
    score = stand_in_scorer(reference, tables["inspections"], names)
    scored = features.select("sponsor_id", "as_of").with_columns(
        score=pl.Series(score(features), dtype=pl.Float64))
    limits = Thresholds(**overrides)
    reports = []
    monitored = sorted(d for d in features["as_of"].unique().to_list()
                       if d not in REFERENCE_DATES)
    previous = REFERENCE_DATES[-1]
    for day in monitored:
        inputs = MonitorInputs(
            as_of=day, previous_as_of=previous, features=names,
            reference=reference, current=features.filter(pl.col("as_of") == day),
            previous=features.filter(pl.col("as_of") == previous),
            reference_scores=scored.filter(pl.col("as_of").is_in(REFERENCE_DATES)),
            scores=scored.filter(pl.col("as_of") == day),
            previous_scores=scored.filter(pl.col("as_of") == previous),
            past_scores=scored.filter(pl.col("as_of").is_in(monitored)
                                      & (pl.col("as_of") <= day)),
            tables=tables, thresholds=thresholds, horizon_months=12, capacity=100)
        reports.append(monitor_snapshot(inputs, limits))
        previous = day
    return reports
