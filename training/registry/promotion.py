"""Promotion: ``champion`` moves to the ``challenger`` only when every gate passes (or by
force, with the reason and the person who forced it recorded on the version).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from sponsorwatch.settings import Settings
from training.registry.gates import (
    Gate,
    GateContext,
    GateResult,
    beats_champion,
    fairness_gate,
    proxy_gate,
)
from training.registry.loading import LoadedModel, load_holdout, load_model
from training.registry.tracking import CHALLENGER, CHAMPION, client

#: Every gate a challenger must pass to become champion, in order (each a function
#: ``GateContext -> GateResult`` that fails where it cannot measure).
PROMOTION_GATES: list[Gate] = [beats_champion, fairness_gate, proxy_gate]


@dataclass(frozen=True)
class PromotionDecision:
    promoted: bool
    version: str
    forced: bool
    results: list[GateResult]
    by: str | None = None
    reason: str | None = None
    previous_champion: str | None = None

    def summary(self) -> str:
        lines = [f"{'PASS' if r.passed else 'FAIL'} {r.gate}: {r.message}" for r in self.results]
        head = (f"promoted version {self.version} to {CHAMPION}"
                + (f" (forced by {self.by}: {self.reason})" if self.forced else "")
                + (f" by {self.by}" if self.by and not self.forced else "")
                ) if self.promoted else (
            f"refused to promote version {self.version} (a gate failed or could not "
            "measure; override only with --force --reason TEXT --by NAME)")
        return "\n".join([head, *lines])


def promote(settings: Settings, *, force: bool = False, reason: str | None = None,
            by: str | None = None, gates: list[Gate] | None = None) -> PromotionDecision:
    """Move ``champion`` to the current ``challenger`` when every gate passes, or when
    forced with a reason and the person forcing it (``by``, else ``settings.promoted_by``);
    both are recorded as tags on the version (``promotion_reason``, ``promoted_by``).

    Raises:
        ValueError: on ``force`` without a reason or without a person.
        LookupError: when there is no challenger.
    """
    by = (by or settings.promoted_by or "").strip() or None
    reason = (reason or "").strip() or None
    if force and reason is None:
        raise ValueError("--force needs --reason TEXT: the reason is recorded on the version")
    if force and by is None:
        raise ValueError("--force needs --by NAME (or SPONSORWATCH_PROMOTED_BY): the person "
                         "who forces the promotion is recorded on the version")
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
    previous = None if champion is None else str(champion.info["version"])
    decision = PromotionDecision(passed or force, version, force and not passed, results,
                                 by, reason, previous)
    mlflow_client = client(settings)
    stamp = datetime.now(UTC).isoformat(timespec="seconds")

    def tag(key: str, value: str) -> None:
        mlflow_client.set_model_version_tag(settings.model_name, version, key, value)

    tag("promotion_gates", json.dumps([r.__dict__ for r in results], default=str))
    if decision.promoted:
        mlflow_client.set_registered_model_alias(settings.model_name, CHAMPION, version)
        tag("promoted_at", stamp)
        if by:
            tag("promoted_by", by)
        if previous is not None:
            tag("previous_champion", previous)
    if force:
        tag("promotion_forced", "true")
        tag("promotion_reason", reason or "")
        tag("promotion_forced_by", by or "")
    elif reason:
        tag("promotion_reason", reason)
    return decision
