"""Behavioural tests of a trained model (the champion of the shared scored small world):
monotone directions hold, paying migrants far above the criterion lowers a score, and
nationality changes nothing."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from features.build import build_features
from sponsorwatch.settings import Settings
from sponsorwatch.storage import scan_warehouse
from sponsorwatch.thresholds import load_thresholds, with_threshold_in_force
from training.fitting.model import RiskModel
from training.fitting.scoring import score_frame
from training.registry.loading import load_model


@pytest.fixture(scope="module")
def champion(scored_home: Path) -> tuple[RiskModel, dict]:
    return load_model(Settings(home=scored_home), "champion")


@pytest.fixture(scope="module")
def as_of(scored_home: Path) -> date:
    latest = sorted((scored_home / "scores").glob("as_of=*"))[-1]
    return date.fromisoformat(latest.name.removeprefix("as_of="))


@pytest.fixture(scope="module")
def tables(scored_home: Path) -> dict[str, pl.DataFrame]:
    return {name: lf.collect() for name, lf in scan_warehouse(scored_home / "warehouse").items()}


def _features(tables: dict[str, pl.DataFrame], as_of: date) -> pl.DataFrame:
    return build_features({n: t.lazy() for n, t in tables.items()}, as_of,
                          load_thresholds()).collect()


def test_monotone_directions_hold(champion: tuple[RiskModel, dict], scored_home: Path,
                                  as_of: date) -> None:
    model, _ = champion
    rows = pl.read_parquet(scored_home / "features" / f"as_of={as_of}" / "features.parquet")
    sample = rows.sample(n=min(60, rows.height), seed=3)
    constrained = [f for f in model.feature_names if model.directions[f] != 0]
    assert constrained
    for feature in constrained:
        column = rows.get_column(feature).drop_nulls()
        grid = np.unique(np.quantile(column.to_numpy(), np.linspace(0, 1, 9))) if len(
            column) else np.array([0.0, 1.0])
        grid = np.concatenate([[grid[0] - 1.0], grid, [grid[-1] + 1.0]])
        margins = np.stack([model.margin(sample.with_columns(pl.lit(v).alias(feature)))
                            for v in grid])
        steps = np.diff(margins, axis=0) * model.directions[feature]
        assert (steps >= -1e-9).all(), f"{feature} moves the score against its direction"


def _pay(tables: dict[str, pl.DataFrame], sponsor: str, multiple: float) -> dict:
    """The tables with every wage ``sponsor`` paid set to ``multiple`` x the criterion in
    force for the migrant's scheme in that month, and the sponsor's monthly wage totals
    (workforce) moved by the same amount, as a real payroll would show."""
    schemes = (tables["permits"].filter(pl.col("sponsor_id") == sponsor)
               .sort("submitted_on").group_by("sponsor_id", "person_key").last()
               .select("sponsor_id", "person_key", "scheme"))
    theirs = tables["payroll"].filter(pl.col("sponsor_id") == sponsor)
    paid = (with_threshold_in_force(theirs.join(schemes, on=["sponsor_id", "person_key"],
                                                how="left").lazy(),
                                    load_thresholds(), "period").collect()
            .with_columns((pl.col("threshold") * multiple).round(2).alias("gross_wage"))
            .select(theirs.columns))
    change = (paid.group_by("period").agg(pl.col("gross_wage").sum().alias("new"))
              .join(theirs.group_by("period").agg(pl.col("gross_wage").sum().alias("old")),
                    on="period")
              .select("period", (pl.col("new") - pl.col("old")).alias("change")))
    workforce = tables["workforce"]
    moved = (workforce.filter(pl.col("sponsor_id") == sponsor)
             .join(change, on="period", how="left")
             .with_columns((pl.col("total_gross_wage") + pl.col("change").fill_null(0.0))
                           .clip(lower_bound=0.0).round(2))
             .select(workforce.columns))
    rest = tables["payroll"].filter(pl.col("sponsor_id") != sponsor)
    return {**tables, "payroll": pl.concat([rest, paid]),
            "workforce": pl.concat([workforce.filter(pl.col("sponsor_id") != sponsor), moved])}


def test_paying_far_above_the_criterion_scores_lower(champion: tuple[RiskModel, dict],
                                                     tables: dict, as_of: date) -> None:
    model, _ = champion
    active = _features(tables, as_of).get_column("sponsor_id")
    recent = tables["payroll"].filter(pl.col("period").is_between(date(as_of.year - 1,
                                                                        as_of.month, 1), as_of)
                                      & pl.col("sponsor_id").is_in(active.to_list()))
    sponsors = (recent.group_by("sponsor_id").agg(pl.col("person_key").n_unique().alias("n"))
                .sort("n", "sponsor_id", descending=[True, False]).head(8)
                .get_column("sponsor_id").to_list())
    assert sponsors
    at, above = [], []
    for sponsor in sponsors:
        for multiple, out in ((1.0, at), (2.0, above)):
            frame = _features(_pay(tables, sponsor, multiple), as_of)
            out.append(float(model.predict(frame.filter(pl.col("sponsor_id") == sponsor))[0]))
    assert all(a <= b for a, b in zip(above, at, strict=True)), (above, at)
    assert sum(above) < sum(at)


def test_changing_every_nationality_changes_no_score(champion: tuple[RiskModel, dict],
                                                      tables: dict, as_of: date) -> None:
    model, info = champion
    sponsors = tables["sponsors"]
    original = score_frame(model, _features(tables, as_of), sponsors,
                           model_version=info["version"])
    nationalities = sorted(tables["permits"].get_column("nationality").drop_nulls().unique())
    rotated = dict(zip(nationalities, nationalities[1:] + nationalities[:1], strict=True))
    changed = {**tables, "permits": tables["permits"].with_columns(
        pl.col("nationality").replace_strict(rotated, default=pl.lit("NLD")))}
    assert not changed["permits"]["nationality"].equals(tables["permits"]["nationality"])
    again = score_frame(model, _features(changed, as_of), sponsors,
                        model_version=info["version"])
    # Polars' parallel sums may differ in the last bit between any two builds (nationality
    # or not), so scores are compared to 1e-12; order and reasons must be the same.
    assert original.select("sponsor_id", "rank", "band").equals(
        again.select("sponsor_id", "rank", "band"))
    assert np.allclose(original["score"].to_numpy(), again["score"].to_numpy(), rtol=0,
                       atol=1e-12)
    assert (original["reasons"].list.eval(pl.element().struct.field("feature"))
            .equals(again["reasons"].list.eval(pl.element().struct.field("feature"))))
