"""A learning loop that stays honest (issue 15): known selection chances weigh the labels,
each fold learns only what was known on its test date, every choice is made on inner folds
the holdout is not part of, and the served booster is the calibrated one."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import polars as pl
import pytest
from hand_world import HAND_DESCRIPTIONS, HAND_DIRECTIONS, HAND_FEATURES, HAND_UNTIL, hand_world

import training.fitting.train as train_module
from training.fitting.calibration import fit_calibrator
from training.fitting.dataset import assemble
from training.fitting.labels import add_months, build_labels
from training.fitting.models import XGBParams, booster_margin, fit_xgboost
from training.fitting.out_of_time import CROSS_FIT, NO_CALIBRATION
from training.fitting.selection import design_weights, ipw_weight_sources, training_arrays
from training.fitting.train import TrainConfig, fit_risk_model, train_and_evaluate
from training.fitting.tune import tune

FAST = XGBParams(n_estimators=30)


def _with_plans(inspections: pl.LazyFrame, random_p: float = 0.25) -> pl.LazyFrame:
    """The hand world's inspections with the plans that chose them: RANDOM picks drawn
    with chance ``random_p``, risk-based ones taken with certainty."""
    return inspections.with_columns(
        plan_id=pl.when(pl.col("selection") == "RANDOM").then(pl.lit("PLAN-R"))
        .otherwise(pl.lit("PLAN-K")),
        inclusion_probability=pl.when(pl.col("selection") == "RANDOM")
        .then(pl.lit(random_p)).otherwise(pl.lit(1.0)))


def test_labels_carry_the_deciding_inspections_plan_and_chance() -> None:
    t = date(2023, 1, 1)
    rows = [("A", "2023-03-01", "RANDOM", "VIOLATION", "P1", 0.1),
            ("B", "2023-03-01", "RISK_BASED", "NO_VIOLATION", "P1", 1.0),
            ("C", "2023-03-01", "TIP", "VIOLATION", None, None),
            # a violation decides over a clean random pick: its plan and chance are reported
            ("D", "2023-02-01", "RANDOM", "NO_VIOLATION", "P1", 0.1),
            ("D", "2023-04-01", "RISK_BASED", "VIOLATION", "P2", 1.0)]
    lf = pl.LazyFrame(
        [{"inspection_id": f"i{n}", "sponsor_id": s, "opened_on": date.fromisoformat(o),
          "closed_on": date(2023, 6, 1), "selection": sel, "outcome": out, "plan_id": plan,
          "inclusion_probability": p} for n, (s, o, sel, out, plan, p) in enumerate(rows)],
        schema={"inspection_id": pl.String, "sponsor_id": pl.String, "opened_on": pl.Date,
                "closed_on": pl.Date, "selection": pl.String, "outcome": pl.String,
                "plan_id": pl.String, "inclusion_probability": pl.Float64})
    out = {r["sponsor_id"]: r for r in build_labels(lf, [t], 12).collect().iter_rows(named=True)}
    assert (out["A"]["plan_id"], out["A"]["inclusion_probability"]) == ("P1", 0.1)
    assert out["B"]["inclusion_probability"] == 1.0
    assert out["C"]["plan_id"] is None and out["C"]["inclusion_probability"] is None
    assert (out["D"]["label"], out["D"]["plan_id"], out["D"]["inclusion_probability"]) == (
        1, "P2", 1.0)


def test_a_random_pick_with_chance_p_weighs_one_over_p() -> None:
    features, inspections = hand_world(seed=3, sponsors=200)
    planned = _with_plans(inspections, random_p=0.25)
    # some tips without a plan: their weight must still be estimated
    planned = planned.with_columns(
        selection=pl.when(pl.col("inspection_id").str.ends_with("7")).then(pl.lit("TIP"))
        .otherwise(pl.col("selection")),
        plan_id=pl.when(pl.col("inspection_id").str.ends_with("7")).then(None)
        .otherwise(pl.col("plan_id")),
        inclusion_probability=pl.when(pl.col("inspection_id").str.ends_with("7")).then(None)
        .otherwise(pl.col("inclusion_probability")))
    data = assemble(features, planned, HAND_FEATURES, 12, HAND_UNTIL)
    dates = data.dates[:8]
    rows = data.rows(dates)
    x, y, w = training_arrays(data, dates, "ipw", seed=1)
    assert w is not None and len(w) == rows.height == len(y)
    p = rows["inclusion_probability"].to_numpy()
    known = ~np.isnan(p)
    raw_scale = w[known] * p[known]  # (1/p) / mean(raw weights): one constant for all known
    assert np.allclose(raw_scale, raw_scale[0], rtol=1e-12)
    random = (rows["selection"] == "RANDOM").to_numpy()
    risk = (rows["selection"] == "RISK_BASED").to_numpy()
    assert np.allclose(w[random], 4 * w[risk][0])  # 1 / 0.25 against 1 / 1
    assert w.mean() == pytest.approx(1.0)
    sources = ipw_weight_sources(data, dates)
    assert sources == {"known": int(known.sum()), "estimated": int((~known).sum())}
    assert sources["known"] > 0 and sources["estimated"] > 0
    model = fit_risk_model(data, dates, TrainConfig(until=HAND_UNTIL, params=FAST,
                                                    correction="ipw"),
                           HAND_DESCRIPTIONS, HAND_DIRECTIONS)
    assert model.metadata["ipw_weights"] == sources


def _appealed_world() -> tuple[pl.LazyFrame, pl.LazyFrame, date, date, str]:
    """The hand world plus one inspection closed clean before a fold's test date whose
    outcome became a violation on appeal, recorded after that test date."""
    features, inspections = hand_world(seed=5, sponsors=200)
    train_day, test_day = date(2022, 6, 30), date(2023, 6, 30)  # the holdout of n_folds=2
    sponsor = "10000001"
    opened, closed = date(2023, 1, 15), date(2023, 3, 1)
    appeal = [{"inspection_id": "APPEAL", "sponsor_id": sponsor, "opened_on": opened,
               "closed_on": closed, "selection": "RANDOM", "outcome": outcome,
               "recorded_on": recorded}
              for outcome, recorded in (("NO_VIOLATION", closed),
                                        ("VIOLATION", date(2023, 9, 1)))]
    others = inspections.filter(pl.col("sponsor_id") != sponsor)
    return (features, pl.concat([others, pl.LazyFrame(appeal)], how="diagonal_relaxed"),
            train_day, test_day, sponsor)


def test_an_outcome_recorded_after_a_folds_test_date_does_not_label_its_training_data(
        monkeypatch: pytest.MonkeyPatch) -> None:
    features, inspections, train_day, test_day, sponsor = _appealed_world()
    data = assemble(features, inspections, HAND_FEATURES, 12, HAND_UNTIL)
    now = data.rows([train_day]).filter(pl.col("sponsor_id") == sponsor)
    assert now["label"].to_list() == [1]  # known at --until: the appeal's violation
    seen: list[tuple[tuple[date, ...], int | None]] = []
    real = train_module.training_arrays

    def spy(view, dates, correction, seed):  # noqa: ANN001, ANN202
        row = view.rows(dates).filter((pl.col("sponsor_id") == sponsor)
                                      & (pl.col("as_of") == train_day))
        seen.append((tuple(dates), row["label"].item() if row.height else None))
        return real(view, dates, correction, seed)

    monkeypatch.setattr(train_module, "training_arrays", spy)
    result = train_and_evaluate(data, TrainConfig(until=HAND_UNTIL, params=FAST, n_folds=2),
                                HAND_DESCRIPTIONS, HAND_DIRECTIONS)
    assert result.holdout.fold.test_dates == (test_day,)
    holdout_calls = [label for dates, label in seen if max(dates) == train_day]
    assert holdout_calls and all(label == 0 for label in holdout_calls)
    assert result.model.metadata["labels_known_on"] == str(test_day)


def test_choices_and_served_model_use_nothing_recorded_after_the_holdout_date() -> None:
    features, inspections = hand_world(seed=11, sponsors=300)
    config = TrainConfig(until=HAND_UNTIL, params=FAST, n_folds=2)
    base = assemble(features, inspections, HAND_FEATURES, 12, HAND_UNTIL)
    first = train_and_evaluate(base, config, HAND_DESCRIPTIONS, HAND_DIRECTIONS,
                               compare_corrections=True)
    holdout_day = first.holdout.fold.test_dates[0]
    flip = pl.col("closed_on") > holdout_day  # known only after the holdout's test date
    changed = inspections.with_columns(outcome=pl.when(flip & (pl.col("outcome") == "VIOLATION"))
                                       .then(pl.lit("NO_VIOLATION"))
                                       .when(flip).then(pl.lit("VIOLATION"))
                                       .otherwise(pl.col("outcome")))
    second = train_and_evaluate(assemble(features, changed, HAND_FEATURES, 12, HAND_UNTIL),
                                config, HAND_DESCRIPTIONS, HAND_DIRECTIONS,
                                compare_corrections=True)
    # the holdout is scored against what is known now, which differs...
    assert (first.holdout.predictions["label"].to_list()
            != second.holdout.predictions["label"].to_list())
    # ...but every choice and the served model are those of a run made on the holdout day
    assert first.correction_comparison == second.correction_comparison
    assert first.config.correction == second.config.correction
    assert first.model.calibrator == second.model.calibrator
    assert (bytes(first.model.booster.save_raw("json"))
            == bytes(second.model.booster.save_raw("json")))
    assert first.choice["holdout_fold"] == first.holdout.fold.name
    assert first.choice["inner_folds"]
    for fold in first.choice["inner_folds"]:
        last_test = date.fromisoformat(fold["test_dates"][-1])
        assert add_months(last_test, 12) <= holdout_day
    assert "inner folds" in first.choice["choice_folds"]
    honesty = first.honesty()
    assert honesty["folds"][-1]["role"] == "holdout"
    assert honesty["served_model"]["calibration_scheme"] == CROSS_FIT
    predictions = first.holdout.predictions
    assert predictions.columns[2:5] == ["label", "selection", "inclusion_probability"]
    assert predictions["inclusion_probability"].dtype == pl.Float64


def test_too_few_dates_for_inner_folds_say_so_and_keep_the_default() -> None:
    features, inspections = hand_world(seed=7, sponsors=500)
    until = date(2021, 6, 30)
    data = assemble(features, inspections, HAND_FEATURES, 12, until)
    config = TrainConfig(until=until, params=FAST, n_folds=1)
    result = train_and_evaluate(data, config, HAND_DESCRIPTIONS, HAND_DIRECTIONS,
                                compare_corrections=True)
    assert result.choice["choice_folds"] == "none (too few dates): default correction 'none' kept"
    assert result.config.correction == "none"
    assert result.model.metadata["calibration_scheme"] == NO_CALIBRATION
    with pytest.raises(ValueError, match="too few snapshot dates to tune"):
        tune(data, config, HAND_DIRECTIONS, 1)


def _designed_world(sponsors: int = 5000, seed: int = 21
                    ) -> tuple[pl.LazyFrame, pl.LazyFrame, pl.DataFrame]:
    """Yearly snapshots; a month after each a plan draws 6 % at random (chance recorded)
    and takes the 3 % riskiest by an observed feature with certainty, so each label comes
    from one plan that chose on the snapshot's own features. Returns the features, the
    inspections and each snapshot's true chance of a violation."""
    rng = np.random.default_rng(seed)
    ids = [f"{20_000_000 + i:08d}" for i in range(sponsors)]
    level = rng.normal(0, 1, sponsors)
    dates = [date(2013 + i, 6, 30) for i in range(11)]
    snapshots, inspections, truth = [], [], []
    for t, as_of in enumerate(dates):
        gap = level + rng.normal(0, 0.5, sponsors)
        age = rng.uniform(0, 20, sponsors)
        chance = 1 / (1 + np.exp(-(1.4 * gap - 0.08 * age - 1.6)))
        snapshots.append(pl.DataFrame({"sponsor_id": ids, "as_of": [as_of] * sponsors,
                                       "wage_gap": gap, "company_age": age,
                                       "noise": rng.normal(0, 1, sponsors)}))
        truth.append(pl.DataFrame({"sponsor_id": ids, "as_of": [as_of] * sponsors,
                                   "chance": chance}))
        risky = gap >= np.quantile(gap, 0.97)
        drawn = ~risky & (rng.random(sponsors) < 0.06)
        violation = rng.random(sponsors) < chance
        opened, closed = add_months(as_of, 1), add_months(as_of, 3)
        for i in np.flatnonzero(risky | drawn):
            inspections.append({
                "inspection_id": f"J{t:02d}{i:05d}", "sponsor_id": ids[i], "opened_on": opened,
                "closed_on": closed, "recorded_on": closed,
                "selection": "RISK_BASED" if risky[i] else "RANDOM",
                "outcome": "VIOLATION" if violation[i] else "NO_VIOLATION",
                "plan_id": f"PLAN-{t}", "inclusion_probability": 1.0 if risky[i] else 0.06})
    return pl.concat(snapshots).lazy(), pl.DataFrame(inspections).lazy(), pl.concat(truth)


def test_the_served_booster_is_calibrated_on_margins_of_boosters_that_had_not_seen_them(
        ) -> None:
    features, inspections, chances = _designed_world()
    data = assemble(features, inspections, HAND_FEATURES, 12, HAND_UNTIL)
    config = TrainConfig(until=HAND_UNTIL, params=XGBParams(n_estimators=60, max_depth=3),
                         n_folds=1)
    result = train_and_evaluate(data, config, HAND_DESCRIPTIONS, HAND_DIRECTIONS)
    served, inputs = result.model, result.calibration_inputs
    assert served.metadata["calibration_scheme"] == CROSS_FIT
    assert inputs is not None and len(inputs.folds) == config.inner_folds
    served_dates = {date.fromisoformat(d) for d in served.metadata["train_dates"]}
    for fold in inputs.folds:
        (day,) = fold.test_dates
        assert day in served_dates  # cross-fitting: the served booster saw these dates...
        assert max(fold.train_dates) <= add_months(day, -12)  # ...their booster did not
        x, y, w = training_arrays(data.known_on(day), fold.train_dates, "none", config.seed)
        again = fit_xgboost(x, y, data.feature_names, HAND_DIRECTIONS, config.params,
                            config.seed, w)
        rows = data.known_on(inputs.known_on).rows([day])
        recorded = inputs.predictions.filter(pl.col("as_of") == day)
        assert rows["sponsor_id"].to_list() == recorded["sponsor_id"].to_list()
        assert np.array_equal(booster_margin(again, data.matrix(rows)), recorded["margin"])
    refit = fit_calibrator(inputs.predictions["margin"].to_numpy(),
                           inputs.predictions["label"].to_numpy(), config.calibration,
                           design_weights(inputs.predictions)
                           / design_weights(inputs.predictions).mean())
    assert refit == served.calibrator
    # the served model on a later labelled slice: mean probability near the observed rate
    later = data.rows(result.holdout.fold.test_dates)
    assert min(later["as_of"]) > max(served_dates)
    predicted = served.predict(later)
    true_chance = later.join(chances, on=["sponsor_id", "as_of"], how="left",
                             maintain_order="left")["chance"].to_numpy()
    assert abs(predicted.mean() - later["label"].mean()) < 0.04
    assert abs(predicted.mean() - true_chance.mean()) < 0.03


def test_same_seed_same_data_same_choice_and_calibration() -> None:
    features, inspections = hand_world(seed=13, sponsors=200)
    data = assemble(features, _with_plans(inspections), HAND_FEATURES, 12, HAND_UNTIL)
    config = replace(TrainConfig(until=HAND_UNTIL, params=FAST, n_folds=2), correction="ipw")
    runs = [train_and_evaluate(data, config, HAND_DESCRIPTIONS, HAND_DIRECTIONS,
                               compare_corrections=True) for _ in range(2)]
    assert runs[0].correction_comparison == runs[1].correction_comparison
    assert runs[0].model.calibrator == runs[1].model.calibrator
    assert runs[0].holdout.metrics.keys() == runs[1].holdout.metrics.keys()
    assert bytes(runs[0].model.booster.save_raw("json")) == bytes(
        runs[1].model.booster.save_raw("json"))
