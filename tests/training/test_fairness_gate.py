"""The fairness gate refuses a challenger trained with the restricted field smuggled in as a
feature and accepts the same model trained without it; the audit runs end to end from a
warehouse folder (nationality read from permits.parquet) and is read back from MLflow."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from sponsorwatch.settings import Settings
from training.fitting.models import LogisticBaseline
from training.governance.audit import FairnessAudit, log_fairness_audit, run_fairness_audit
from training.governance.groups import RESTRICTED_GROUPING, load_restricted_attributes
from training.registry.gates import GateContext, fairness_gate
from training.registry.loading import LoadedModel

SPONSORS = 1000
K = 80
AS_OF = date(2024, 1, 1)
FAIR_FEATURES = ["wage_gap", "company_age", "noise"]


def _world(tmp: Path, seed: int = 11) -> dict:
    """Sponsors whose migrants are mostly from one region (group A, 35%) or another; abuse
    follows the wage gap only, but the past labels over-record violations in group A."""
    rng = np.random.default_rng(seed)
    ids = [f"{20_000_000 + i:08d}" for i in range(SPONSORS)]
    group_a = rng.random(SPONSORS) < 0.35
    permits = pl.DataFrame({
        "sponsor_id": [s for s in ids for _ in range(2)],
        "person_key": [f"p{i}" for i in range(2 * SPONSORS)],
        "submitted_on": [date(2022, 5, 1)] * (2 * SPONSORS),
        "nationality": [n for a in group_a for n in (("IND", "PAK") if a else ("USA", "CAN"))]})
    warehouse = tmp / "warehouse"
    warehouse.mkdir(parents=True)
    permits.write_parquet(warehouse / "permits.parquet")
    sponsors = pl.DataFrame({"sponsor_id": ids,
                             "sbi_code": rng.choice(["62010", "5610", "7022"], SPONSORS),
                             "postcode4": rng.choice(["1012", "3011", "9711"], SPONSORS)})

    def snapshot() -> pl.DataFrame:
        return pl.DataFrame({"sponsor_id": ids, "wage_gap": rng.normal(0, 1, SPONSORS),
                             "company_age": rng.uniform(0, 20, SPONSORS),
                             "noise": rng.normal(0, 1, SPONSORS),
                             "group_a": group_a.astype(float)})

    def risk(frame: pl.DataFrame) -> np.ndarray:
        return 1 / (1 + np.exp(-(1.8 * frame["wage_gap"].to_numpy() - 2.0)))

    train = snapshot()
    biased_labels = rng.random(SPONSORS) < np.clip(risk(train) + 0.45 * group_a, 0, 1)
    test = snapshot()
    inspected = rng.random(SPONSORS) < 0.5
    violation = rng.random(SPONSORS) < risk(test)
    test_labels = pl.Series("label", np.where(inspected, violation.astype(float), np.nan)
                            ).fill_nan(None).cast(pl.Int8)
    return {"warehouse": warehouse, "tables": {"sponsors": sponsors.lazy()},
            "train": train, "labels": biased_labels.astype(float), "test": test,
            "test_labels": test_labels}


def _audit(world: dict, features: list[str]) -> FairnessAudit:
    model = LogisticBaseline(seed=0).fit(world["train"].select(features).to_numpy(),
                                         world["labels"])
    test = world["test"]
    predictions = pl.DataFrame({"sponsor_id": test["sponsor_id"],
                                "score": model.predict(test.select(features).to_numpy()),
                                "label": world["test_labels"]})
    return run_fairness_audit(predictions, test, FAIR_FEATURES, world["tables"],
                              load_restricted_attributes(world["warehouse"], AS_OF), k=K,
                              as_of=AS_OF, min_ratio=0.8, seed=0)


def _new_run(settings: Settings) -> tuple[object, str]:
    from training.registry.tracking import client, ensure_experiment

    mlflow_client = client(settings)
    run = mlflow_client.create_run(ensure_experiment(settings, "gate-test"))
    return mlflow_client, run.info.run_id


def _gate(settings: Settings, audit: FairnessAudit):  # noqa: ANN202 - a GateResult
    mlflow_client, run_id = _new_run(settings)
    log_fairness_audit(audit, mlflow_client, run_id)
    ctx = GateContext(settings, LoadedModel(None, {"run_id": run_id, "version": "2"}),
                      None, pl.DataFrame())
    return fairness_gate(ctx)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return _world(tmp_path_factory.mktemp("gate"))


@pytest.fixture(scope="module")
def audits(world: dict) -> dict[str, FairnessAudit]:
    return {"biased": _audit(world, [*FAIR_FEATURES, "group_a"]),
            "fair": _audit(world, FAIR_FEATURES)}


def test_gate_refuses_the_smuggled_restricted_field_and_accepts_the_fair_model(
        audits: dict[str, FairnessAudit], settings: Settings) -> None:
    biased, fair = audits["biased"], audits["fair"]
    biased_rows = {r[RESTRICTED_GROUPING]: r for r in biased.groups[RESTRICTED_GROUPING].to_dicts()}
    # The smuggled field puts group A's honest sponsors in the top k far more often.
    assert biased_rows["SOUTH_ASIA"]["fpr_label"] > 2 * biased_rows["NORTH_AMERICA_OCEANIA"][
        "fpr_label"]
    assert not biased.passed and biased.breaches[0].group == "SOUTH_ASIA"
    assert fair.passed

    refused, accepted = _gate(settings, biased), _gate(settings, fair)
    assert not refused.passed and "SOUTH_ASIA" in refused.message
    assert refused.numbers["lowest_ratio"] < 0.8
    assert accepted.passed, accepted.message


def test_gate_bound_is_the_one_in_force_at_promotion(audits: dict[str, FairnessAudit],
                                                     settings: Settings) -> None:
    biased = audits["biased"]
    lowest = min(biased.groups[RESTRICTED_GROUPING]["fpr_label_ratio"].drop_nulls())
    lenient = settings.model_copy(update={"fairness_min_ratio": lowest * 0.9})
    assert _gate(lenient, biased).passed
    assert not _gate(settings, biased).passed


def test_gate_refuses_a_run_without_audit(settings: Settings) -> None:
    _, run_id = _new_run(settings)
    ctx = GateContext(settings, LoadedModel(None, {"run_id": run_id, "version": "3"}),
                      None, pl.DataFrame())
    result = fairness_gate(ctx)
    assert not result.passed and "no fairness audit" in result.message


def test_audit_refuses_a_restricted_feature_list(world: dict) -> None:
    predictions = pl.DataFrame({"sponsor_id": world["test"]["sponsor_id"], "score": 0.5})
    with pytest.raises(ValueError, match="restricted"):
        run_fairness_audit(predictions, world["test"].with_columns(nationality=pl.lit(1.0)),
                           ["wage_gap", "nationality"], world["tables"], pl.DataFrame(
                               {"sponsor_id": [], RESTRICTED_GROUPING: []}), k=K)
