"""Hand-made training data for the training tests: a few features with a known link to
violations, inspections chosen mostly by an old risk rule plus a random slice. Small enough
to train in a second."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from training.fitting.labels import add_months

HAND_FEATURES = ["wage_gap", "company_age", "noise"]
HAND_DIRECTIONS = {"wage_gap": 1, "company_age": -1, "noise": 0}
HAND_DESCRIPTIONS = {"wage_gap": "How far wages fall short", "company_age": "Years since founding",
                     "noise": "Unrelated"}
HAND_UNTIL = date(2024, 6, 30)
HAND_DATES = [add_months(date(2019, 6, 30), 3 * i) for i in range(21)]


def hand_world(seed: int = 7, sponsors: int = 500,
               shuffle_labels: bool = False) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """(feature snapshots, inspections) of a small world where violations follow
    ``wage_gap`` up and ``company_age`` down."""
    rng = np.random.default_rng(seed)
    ids = [f"{10_000_000 + i:08d}" for i in range(sponsors)]
    base_gap = rng.normal(0, 1, sponsors)
    base_age = rng.uniform(0, 20, sponsors)
    snapshots, inspections = [], []
    for t, as_of in enumerate(HAND_DATES):
        gap = base_gap + rng.normal(0, 0.3, sponsors)
        age = base_age + t / 4
        noise = rng.normal(0, 1, sponsors)
        snapshots.append(pl.DataFrame({"sponsor_id": ids, "as_of": [as_of] * sponsors,
                                       "wage_gap": gap, "company_age": age, "noise": noise}))
        risk = 1 / (1 + np.exp(-(1.6 * gap - 0.15 * age - 0.5)))
        selected_by_rule = rng.random(sponsors) < 0.08 * (age < 5) + 0.01
        selected_at_random = rng.random(sponsors) < 0.03
        for i in np.flatnonzero(selected_by_rule | selected_at_random):
            opened = add_months(as_of, 1)
            violation = rng.random() < risk[i]
            inspections.append({
                "inspection_id": f"I{t:02d}{i:05d}", "sponsor_id": ids[i], "opened_on": opened,
                "closed_on": add_months(opened, 2),
                "selection": "RANDOM" if selected_at_random[i] else "RISK_BASED",
                "outcome": "VIOLATION" if violation else "NO_VIOLATION"})
    frame = pl.concat(snapshots)
    inspected = pl.DataFrame(inspections)
    if shuffle_labels:
        inspected = inspected.with_columns(
            pl.col("outcome").sample(fraction=1.0, shuffle=True, seed=seed))
    return frame.lazy(), inspected.lazy()
