"""The promotion gates fail closed: a fairness audit that cannot measure the false-positive
rate of a nationality-mix group, or a proxy check that was skipped, refuses the challenger
and says what was missing; fairness is measured on RANDOM inspections where there are
enough of them, else on every labelled one, saying so; the proxy check is a gate with a
bound from the settings."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from sponsorwatch.settings import Settings
from tests.training.test_fairness_gate import AS_OF, FAIR_FEATURES, K, _gate, _new_run, _world
from training.fitting.models import LogisticBaseline
from training.governance.audit import FairnessAudit, log_fairness_audit, run_fairness_audit
from training.governance.groups import RESTRICTED_GROUPING, load_restricted_attributes
from training.registry.gates import GateContext, proxy_gate
from training.registry.loading import LoadedModel
from training.registry.promotion import PROMOTION_GATES


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return _world(tmp_path_factory.mktemp("closed"))


def _audit(world: dict, labels: pl.Series, selection: pl.Series | None = None,
           proxy_features: list[str] | None = None, **kwargs: object) -> FairnessAudit:
    model = LogisticBaseline(seed=0).fit(world["train"].select(FAIR_FEATURES).to_numpy(),
                                         world["labels"])
    test = world["test"]
    predictions = pl.DataFrame({"sponsor_id": test["sponsor_id"],
                                "score": model.predict(test.select(FAIR_FEATURES).to_numpy()),
                                "label": labels})
    if selection is not None:
        predictions = predictions.with_columns(selection)
    return run_fairness_audit(predictions, test, proxy_features or FAIR_FEATURES,
                              world["tables"],
                              load_restricted_attributes(world["warehouse"], AS_OF), k=K,
                              as_of=AS_OF, min_ratio=0.8, seed=0, **kwargs)  # type: ignore[arg-type]


def _proxy(settings: Settings, audit: FairnessAudit):  # noqa: ANN202 - a GateResult
    mlflow_client, run_id = _new_run(settings)
    log_fairness_audit(audit, mlflow_client, run_id)
    return proxy_gate(GateContext(settings, LoadedModel(None, {"run_id": run_id,
                                                               "version": "2"}),
                                  None, pl.DataFrame()))


def test_fairness_gate_fails_when_a_group_has_too_few_labelled_negatives(
        world: dict, settings: Settings) -> None:
    labels = world["test_labels"]
    # Only a handful of inspections: no group has 20 labelled negatives.
    few = pl.Series("label", [v if i < 30 else None for i, v in enumerate(labels)],
                    dtype=pl.Int8)
    audit = _audit(world, few)
    assert not audit.passed and audit.unmeasured and not audit.breaches
    result = _gate(settings, audit)
    assert not result.passed
    assert "cannot measure" in result.message and "labelled negatives" in result.message
    assert "n/a" not in result.message
    assert result.numbers["unmeasured"]
    # The same audit with every label measures, and passes.
    full = _gate(settings, _audit(world, labels))
    assert full.passed, full.message


def test_fairness_gate_fails_when_a_large_group_alone_cannot_be_measured(
        world: dict, settings: Settings) -> None:
    labels = world["test_labels"]
    groups = load_restricted_attributes(world["warehouse"], AS_OF)
    south_asia = set(groups.filter(pl.col(RESTRICTED_GROUPING) == "SOUTH_ASIA")["sponsor_id"])
    # Group SOUTH_ASIA (35% of sponsors) has no inspections at all.
    thinned = pl.Series("label", [None if sid in south_asia else v for sid, v in
                                  zip(world["test"]["sponsor_id"], labels, strict=True)],
                        dtype=pl.Int8)
    result = _gate(settings, _audit(world, thinned))
    assert not result.passed and "SOUTH_ASIA has 0 labelled negatives" in result.message
    # A group below the share of the sponsors that must be measured does not block.
    tiny = settings.model_copy(update={"fairness_min_group_share": 0.5})
    assert "SOUTH_ASIA" not in " ".join(_gate(tiny, _audit(world, thinned)).numbers[
        "unmeasured"])


def test_fairness_is_measured_on_random_inspections_where_they_suffice(world: dict) -> None:
    labels = world["test_labels"]
    rng = np.random.default_rng(3)
    selection = pl.Series("selection", np.where(rng.random(len(labels)) < 0.92, "RANDOM",
                                                "RISK_BASED"))
    on_random = _audit(world, labels, selection, min_random=100)
    assert on_random.basis["inspections"] == "RANDOM", on_random.basis
    random_labels = int(((selection == "RANDOM") & labels.is_not_null()).sum())
    assert on_random.basis["random_labels"] == random_labels
    negatives = on_random.groups[RESTRICTED_GROUPING]["negatives_label"].sum()
    assert negatives < int((labels == 0).sum())  # RISK_BASED labels left out
    too_few = _audit(world, labels, selection, min_random=10_000)
    assert too_few.basis["inspections"] == "all labelled"
    assert "fewer than the 10000" in too_few.basis["reason"]
    assert too_few.groups[RESTRICTED_GROUPING]["negatives_label"].sum() == int(
        (labels == 0).sum())
    assert "RANDOM inspection labels" in too_few.to_markdown()


def test_proxy_gate_refuses_features_that_predict_the_nationality_mix(
        world: dict, settings: Settings) -> None:
    assert proxy_gate in PROMOTION_GATES
    fair = _proxy(settings, _audit(world, world["test_labels"]))
    assert fair.passed, fair.message
    # A feature that is the nationality mix under another name predicts it perfectly.
    leaky = _proxy(settings, _audit(world, world["test_labels"],
                                    proxy_features=[*FAIR_FEATURES, "group_a"]))
    assert not leaky.passed and leaky.numbers["auc_macro"] > settings.proxy_max_auc
    assert "beyond the bound" in leaky.message
    lenient = settings.model_copy(update={"proxy_max_auc": 1.0})
    assert _proxy(lenient, _audit(world, world["test_labels"],
                                  proxy_features=[*FAIR_FEATURES, "group_a"])).passed


def test_proxy_gate_fails_when_it_cannot_measure(settings: Settings) -> None:
    audit = FairnessAudit(as_of=AS_OF, k=K, sponsors=10, min_ratio=0.8, groups={},
                          proxy={"skipped": "fewer than two classes with enough sponsors"},
                          bias_scan={})
    result = _proxy(settings, audit)
    assert not result.passed and "fewer than two classes" in result.message
    _, run_id = _new_run(settings)
    no_audit = proxy_gate(GateContext(settings, LoadedModel(None, {"run_id": run_id,
                                                                   "version": "3"}),
                                      None, pl.DataFrame()))
    assert not no_audit.passed and "no fairness audit" in no_audit.message
