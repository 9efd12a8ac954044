"""Model cards of registered versions, read back from the home's cache or the run's artifacts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sponsorwatch.settings import Settings
from training.governance.model_card import CARD_ARTIFACT_DIR, CARD_JSON, card_cache_dir, write_card


def load_model_card(settings: Settings, version: str, run_id: str | None) -> dict[str, Any]:
    """The card of a registered version: from the home's cache, else from the run's
    artifacts in MLflow (then cached).

    Raises:
        LookupError: when the version has no card.
    """
    cached = card_cache_dir(settings, version) / CARD_JSON
    if cached.exists():
        return json.loads(cached.read_text(encoding="utf-8"))
    if not run_id:
        raise LookupError(f"model version {version} has no card and no run to fetch it from")
    import tempfile

    from mlflow.exceptions import MlflowException

    from training.registry.tracking import client

    try:
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(client(settings).download_artifacts(
                run_id, f"{CARD_ARTIFACT_DIR}/{CARD_JSON}", dst_path=tmp))
            card = json.loads(local.read_text(encoding="utf-8"))
    except (MlflowException, OSError) as exc:
        raise LookupError(f"run {run_id} of model version {version} logged no model card; "
                          "retrain to generate one") from exc
    write_card(card, card_cache_dir(settings, version))
    return card
