"""Evaluation plots of a training run (matplotlib, Agg backend, PNG files)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from training.fitting.metrics import calibration_curve, precision_curve

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from training.fitting.model import RiskModel
    from training.fitting.train import TrainResult

MODEL_COLOURS = {"xgboost": "tab:blue", "logistic": "tab:orange", "crude_rule": "tab:gray"}


def _pyplot():  # noqa: ANN202 - the pyplot module
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _slices(predictions: pl.DataFrame) -> dict[str, tuple[pl.DataFrame, str]]:
    labelled = predictions.filter(pl.col("label").is_not_null())
    out = {"labelled": (labelled, "label"),
           "random": (labelled.filter(pl.col("selection") == "RANDOM"), "label")}
    truth = predictions.filter(pl.col("truth").is_not_null())
    if truth.height:
        out["truth"] = (truth, "truth")
    return {k: v for k, v in out.items() if v[0].height}


def _present(rows: pl.DataFrame) -> list[tuple[str, str]]:
    """Model kinds scored in ``rows`` with their colours."""
    return [(k, c) for k, c in MODEL_COLOURS.items() if f"score_{k}" in rows.columns]


def precision_at_k_figure(predictions: pl.DataFrame, max_k: int = 500) -> Figure:
    """Precision at every k for each model and evaluation slice."""
    plt = _pyplot()
    slices = _slices(predictions)
    fig, axes = plt.subplots(1, len(slices), figsize=(5 * len(slices), 4), squeeze=False)
    for ax, (name, (rows, target)) in zip(axes[0], slices.items(), strict=True):
        y = rows.get_column(target).cast(pl.Float64).to_numpy()
        for kind, colour in _present(rows):
            curve = precision_curve(y, rows.get_column(f"score_{kind}").to_numpy(), max_k)
            ax.plot(np.arange(1, curve.size + 1), curve, label=kind, color=colour)
        ax.axhline(y.mean(), color="black", linestyle=":", label="random")
        ax.set(title=f"precision at k ({name})", xlabel="k", ylabel="precision", ylim=(0, 1))
        ax.legend()
    fig.tight_layout()
    return fig


def pr_curve_figure(predictions: pl.DataFrame) -> Figure:
    from sklearn.metrics import precision_recall_curve

    plt = _pyplot()
    slices = _slices(predictions)
    fig, axes = plt.subplots(1, len(slices), figsize=(5 * len(slices), 4), squeeze=False)
    for ax, (name, (rows, target)) in zip(axes[0], slices.items(), strict=True):
        y = rows.get_column(target).cast(pl.Int8).to_numpy()
        if y.min() == y.max():
            continue
        for kind, colour in _present(rows):
            precision, recall, _ = precision_recall_curve(
                y, rows.get_column(f"score_{kind}").to_numpy())
            ax.plot(recall, precision, label=kind, color=colour)
        ax.set(title=f"precision-recall ({name})", xlabel="recall", ylabel="precision",
               ylim=(0, 1))
        ax.legend()
    fig.tight_layout()
    return fig


def calibration_figure(predictions: pl.DataFrame) -> Figure:
    """Observed violation rate against the calibrated score, labelled and random slices."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 5))
    for name, (rows, target) in _slices(predictions).items():
        if name == "truth":  # the score estimates a found violation, not abuse itself
            continue
        curve = calibration_curve(rows.get_column(target).cast(pl.Float64).to_numpy(),
                                  rows.get_column("score_xgboost").to_numpy())
        ax.plot(curve["predicted"], curve["observed"], marker="o", label=name)
    ax.plot([0, 1], [0, 1], color="black", linestyle=":")
    ax.set(title="calibration (held-out)", xlabel="mean score", ylabel="observed rate",
           xlim=(0, 1), ylim=(0, 1))
    ax.legend()
    fig.tight_layout()
    return fig


def importance_figure(model: RiskModel, top: int = 20) -> Figure:
    plt = _pyplot()
    gains = sorted(model.importance().items(), key=lambda kv: kv[1], reverse=True)[:top][::-1]
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(gains) + 1))
    ax.barh([g[0] for g in gains], [g[1] for g in gains], color="tab:blue")
    ax.set(title="feature importance (total gain)", xlabel="total gain")
    fig.tight_layout()
    return fig


def shap_summary_figure(model: RiskModel, rows: pl.DataFrame, top: int = 15) -> Figure:
    """Beeswarm-like summary of XGBoost's own SHAP contributions (pred_contribs): one row per
    feature, each dot a snapshot, coloured by the feature's value rank."""
    plt = _pyplot()
    contribs = model.contributions(rows)[:, :-1]
    values = rows.select(model.feature_names).cast(pl.Float64).to_numpy()
    order = np.argsort(-np.abs(contribs).mean(axis=0))[:top][::-1]
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(order) + 1.5))
    rng = np.random.default_rng(0)
    for row, col in enumerate(order):
        v = values[:, col]
        finite = np.isfinite(v)
        colour = np.full(v.shape, 0.5)
        if finite.sum() > 1:
            ranks = np.argsort(np.argsort(v[finite]))
            colour[finite] = ranks / max(ranks.max(), 1)
        jitter = rng.uniform(-0.3, 0.3, v.size)
        ax.scatter(contribs[:, col], row + jitter, c=colour, cmap="coolwarm", s=6, alpha=0.7)
    ax.set_yticks(range(len(order)), [model.feature_names[c] for c in order])
    ax.axvline(0, color="black", linewidth=0.5)
    ax.set(title="SHAP contributions (log-odds; red = high value)", xlabel="contribution")
    fig.tight_layout()
    return fig


def write_training_plots(result: TrainResult, holdout_rows: pl.DataFrame,
                         folder: Path) -> Path:
    """Write every plot of a run as PNG into ``folder`` (created) and return it."""
    plt = _pyplot()
    folder.mkdir(parents=True, exist_ok=True)
    predictions = pl.concat([f.predictions for f in result.folds])
    figures = {
        "precision_at_k.png": precision_at_k_figure(predictions),
        "pr_curve.png": pr_curve_figure(predictions),
        "calibration.png": calibration_figure(result.holdout.predictions),
        "feature_importance.png": importance_figure(result.model),
    }
    if holdout_rows.height:
        figures["shap_summary.png"] = shap_summary_figure(result.model, holdout_rows)
    for name, fig in figures.items():
        fig.savefig(folder / name, dpi=100)
        plt.close(fig)
    return folder
