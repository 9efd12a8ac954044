"""Glue shared by the notebooks: the home they read, figures shown as PNG, and one small
statistic for exploring. Every step of the real work is a call into the packages.

The notebooks run from this folder (Jupyter and nbclient start the kernel here), so they
import this module as ``notebook_glue``.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import polars as pl

from sponsorwatch.settings import Settings

#: Where a notebook builds its own small world when SPONSORWATCH_HOME is unset
#: (``.sponsorwatch/`` is ignored by git).
DEFAULT_HOME = Path(__file__).resolve().parent / ".sponsorwatch"


def is_prepared(settings: Settings) -> bool:
    """True when the home went through every stage: a warehouse, feature snapshots, a
    tracking store and at least one score snapshot."""
    return ((settings.warehouse_dir / "manifest.json").exists()
            and settings.features_dir.exists()
            and settings.scores_dir.exists() and any(settings.scores_dir.iterdir()))


def notebook_settings(sponsors: int, seed: int) -> Settings:
    """The settings of the home the notebook reads: SPONSORWATCH_HOME (and every other
    SPONSORWATCH_ variable) when set, else :data:`DEFAULT_HOME`, built on first use as a
    simulated world of ``sponsors`` sponsors by the project's own stages.

    Raises:
        FileNotFoundError: when SPONSORWATCH_HOME names a home that was never prepared.
    """
    if os.environ.get("SPONSORWATCH_HOME"):
        settings = Settings()
        if not is_prepared(settings):
            raise FileNotFoundError(
                f"{settings.home}: not a prepared home (needs a warehouse, feature snapshots, "
                "a trained champion and a score snapshot); unset SPONSORWATCH_HOME to build "
                "a small simulated one, or run the stages (ingest, features, train, promote, "
                "score) on it")
        return settings
    settings = Settings(home=DEFAULT_HOME)
    if not is_prepared(settings):
        from pipelines.run import run_demo

        print(f"building a simulated world of {sponsors} sponsors in {settings.home} ...")
        result = run_demo(settings, sponsors, seed, run_gx=False, plots=False)
        print("\n".join(result.notes))
    return settings


def show(fig: Any, dpi: int = 80) -> None:
    """Display a matplotlib figure as a PNG output and close it (works under the Agg
    backend, so the notebook renders the same in Jupyter, nbclient and CI)."""
    import matplotlib.pyplot as plt
    from IPython.display import Image, display

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    display(Image(data=buffer.getvalue(), format="png"))


def metrics_table(metrics: dict[str, float], prefix: str = "") -> pl.DataFrame:
    """Training metrics keyed ``{prefix}{model}.{slice}.{metric}`` (as ``training.fitting.train``
    names them and the MLflow run logs them) as columns ``model, slice, metric, value``."""
    rows = []
    for key, value in metrics.items():
        if not key.startswith(prefix):
            continue
        parts = key[len(prefix):].split(".")
        if len(parts) == 3:
            rows.append({"model": parts[0], "slice": parts[1], "metric": parts[2],
                         "value": float(value)})
    return pl.DataFrame(rows, schema={"model": pl.String, "slice": pl.String,
                                      "metric": pl.String, "value": pl.Float64})


def standardised_differences(frame: pl.DataFrame, group: pl.Expr,
                             features: list[str]) -> pl.DataFrame:
    """Per feature, (mean where ``group`` is true - mean where false) / pooled standard
    deviation, nulls ignored; sorted by absolute size. Columns ``feature``,
    ``mean_in``, ``mean_out``, ``difference``."""
    flagged = frame.with_columns(group.alias("__in"))
    rows = []
    for name in features:
        column = pl.col(name)
        stats = flagged.select(
            mean_in=column.filter(pl.col("__in")).mean(),
            mean_out=column.filter(~pl.col("__in")).mean(),
            sd=column.std()).row(0, named=True)
        sd = stats["sd"]
        difference = ((stats["mean_in"] - stats["mean_out"]) / sd
                      if sd and stats["mean_in"] is not None and stats["mean_out"] is not None
                      else None)
        rows.append({"feature": name, "mean_in": stats["mean_in"],
                     "mean_out": stats["mean_out"], "difference": difference})
    return (pl.DataFrame(rows, schema={"feature": pl.String, "mean_in": pl.Float64,
                                       "mean_out": pl.Float64, "difference": pl.Float64})
            .sort(pl.col("difference").abs(), descending=True, nulls_last=True))
