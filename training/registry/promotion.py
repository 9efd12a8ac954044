"""Promotion: ``champion`` moves to the ``challenger`` only when every gate passes (or by
force with a recorded reason).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from sponsorwatch.settings import Settings
from training.registry.gates import Gate, GateContext, GateResult, beats_champion, fairness_gate
from training.registry.loading import LoadedModel, load_holdout, load_model
from training.registry.tracking import CHALLENGER, CHAMPION, client

#: Every gate a challenger must pass to become champion, in order. The fairness gate of
#: issue 8 is appended here (a function ``GateContext -> GateResult``).
PROMOTION_GATES: list[Gate] = [beats_champion, fairness_gate]


@dataclass(frozen=True)
class PromotionDecision:
    promoted: bool
    version: str
    forced: bool
    results: list[GateResult]

    def summary(self) -> str:
        lines = [f"{'PASS' if r.passed else 'FAIL'} {r.gate}: {r.message}" for r in self.results]
        head = (f"promoted version {self.version} to {CHAMPION}"
                + (" (forced)" if self.forced else "")) if self.promoted else (
            f"refused to promote version {self.version}")
        return "\n".join([head, *lines])


def promote(settings: Settings, *, force: bool = False, reason: str | None = None,
            gates: list[Gate] | None = None) -> PromotionDecision:
    """Move ``champion`` to the current ``challenger`` when every gate passes, or when
    forced with a reason (recorded as tags on the version).

    Raises:
        ValueError: on ``force`` without a reason.
        LookupError: when there is no challenger.
    """
    if force and not (reason and reason.strip()):
        raise ValueError("--force needs --reason TEXT: the reason is recorded on the version")
    challenger_model, challenger_info = load_model(settings, CHALLENGER)
    try:
        champion_model, champion_info = load_model(settings, CHAMPION)
        champion: LoadedModel | None = LoadedModel(champion_model, champion_info)
    except LookupError:
        champion = None
    ctx = GateContext(settings, LoadedModel(challenger_model, challenger_info), champion,
                      load_holdout(settings, challenger_info["run_id"]))
    results = [gate(ctx) for gate in (PROMOTION_GATES if gates is None else gates)]
    passed = all(r.passed for r in results)
    version = challenger_info["version"]
    decision = PromotionDecision(passed or force, version, force and not passed, results)
    mlflow_client = client(settings)
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    mlflow_client.set_model_version_tag(settings.model_name, version, "promotion_gates",
                                        json.dumps([r.__dict__ for r in results], default=str))
    if decision.promoted:
        mlflow_client.set_registered_model_alias(settings.model_name, CHAMPION, version)
        mlflow_client.set_model_version_tag(settings.model_name, version, "promoted_at", stamp)
        if champion is not None:
            mlflow_client.set_model_version_tag(settings.model_name, version,
                                                "previous_champion", champion.info["version"])
    if force:
        mlflow_client.set_model_version_tag(settings.model_name, version, "promotion_forced",
                                            "true")
        mlflow_client.set_model_version_tag(settings.model_name, version, "promotion_reason",
                                            reason or "")
    return decision
