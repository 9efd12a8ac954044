"""Regenerate docs/features.md from the registry: ``uv run python -m features.docs``."""

from __future__ import annotations

from pathlib import Path

from features.registry import features_markdown
from sponsorwatch.storage import write_text_atomic

DOC_PATH = Path(__file__).resolve().parents[1] / "docs" / "features.md"


def write_features_doc(path: Path = DOC_PATH) -> Path:
    """Write the generated feature documentation to ``path``."""
    write_text_atomic(features_markdown(), path)
    return path


if __name__ == "__main__":
    print(write_features_doc())
