"""What model is served: version, training window, metrics, features."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from serving.deps import AUTH_RESPONSES, CurrentKey, ModelDep, ServingDep, SettingsDep
from serving.schemas import FeatureInfo, ModelInfo
from serving.state import LoadedModel

router = APIRouter(prefix="/v1", tags=["model"], responses=AUTH_RESPONSES)


def feature_infos(model: Any) -> list[FeatureInfo]:
    """The model's inputs with the registry's family, unit and description."""
    from features.registry import FEATURES

    infos = []
    for name in model.feature_names:
        spec = FEATURES.get(name)
        infos.append(FeatureInfo(
            name=name, family=spec.family if spec else "unknown",
            description=spec.description if spec else model.descriptions.get(name, name),
            unit=spec.unit if spec else None,
            direction=int(model.directions.get(name, spec.direction if spec else 0))))
    return infos


def training_window(loaded: LoadedModel) -> dict[str, Any]:
    meta = getattr(loaded.model, "metadata", {}) or {}
    dates = meta.get("train_dates") or []
    return {"first_snapshot": dates[0] if dates else None,
            "last_snapshot": dates[-1] if dates else None,
            "snapshots": len(dates), "train_until": meta.get("train_until"),
            "horizon_months": meta.get("horizon_months")}


def numeric_metrics(info: dict[str, Any]) -> dict[str, float]:
    metrics = info.get("metrics") or {}
    return {k: float(v) for k, v in metrics.items()
            if isinstance(v, int | float) and v == v and abs(v) != float("inf")}


@router.get("/model", response_model=ModelInfo)
async def model_info(caller: CurrentKey, loaded: ModelDep, serving: ServingDep,
                     settings: SettingsDep) -> ModelInfo:
    """The served model (any role): version, where it came from, training window, metrics
    and every input feature with its description."""
    snapshot = serving.snapshot
    return ModelInfo(
        name=settings.model_name, version=loaded.version, alias="champion",
        source=loaded.source, loaded_at=loaded.loaded_at, run_id=loaded.info.get("run_id"),
        training_window=training_window(loaded), metrics=numeric_metrics(loaded.info),
        features=feature_infos(loaded.model), bands=loaded.info.get("bands") or {},
        snapshot_as_of=snapshot.as_of if snapshot else None,
        snapshot_model_version=snapshot.model_version if snapshot else None,
        snapshot_sponsors=len(snapshot.row_of) if snapshot else 0)
