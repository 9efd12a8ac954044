"""Calibration report: the world's aggregates beside the public figures (placeholder)."""

from __future__ import annotations

from typing import Any


def calibration(world, **kw: Any) -> dict[str, Any]:  # noqa: ANN001
    return {"parameters": {k: str(v) for k, v in kw.items() if k != "row_counts"},
            "row_counts": kw.get("row_counts", {})}


def render_markdown(report: dict[str, Any]) -> str:
    return "# Calibration\n"
