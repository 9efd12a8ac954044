# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 02 · Model report
#
# A registered version of the risk model, loaded from MLflow by alias: its precision at
# k against the two baselines (a logistic regression and the crude rule) as its training
# run logged them, its calibration on the held-out snapshots, the reasons behind the
# sponsors it ranks highest, the fairness audit of its training run, and a comparison
# with another registered version.
#
# **Inputs.** `SPONSORWATCH_HOME` names a prepared home (unset: a small simulated world
# is built in `notebooks/.sponsorwatch/`); which versions to report on is in the
# parameters cell. The notebook only reads the home.

# %% tags=["parameters"]
SPONSORS = 400  # sponsors in the world built when SPONSORWATCH_HOME is unset
SEED = 20260701  # its seed
ALIAS = "champion"  # the version to report on
COMPARE_WITH = ""  # a version number or alias; empty: the newest other registered version
TOP_SPONSORS = 10  # sponsors whose reasons are listed

# %%
from collections import Counter

import matplotlib
import matplotlib.pyplot as plt
import mlflow.pyfunc
import numpy as np
import polars as pl
from IPython.display import Markdown, display
from notebook_glue import metrics_table, notebook_settings, show

from features.store import scan_snapshots
from sponsorwatch.storage import scan_warehouse
from training.fitting.crude_rule import REQUIRED as CRUDE_RULE_INPUTS
from training.fitting.crude_rule import crude_rule_score
from training.fitting.metrics import calibration_curve, precision_at_k, precision_curve
from training.fitting.plots import (
    calibration_figure,
    importance_figure,
    precision_at_k_figure,
    shap_summary_figure,
)
from training.fitting.scoring import reasons_as_text, score_frame
from training.governance.audit_report import audit_markdown
from training.governance.groups import GROUPINGS
from training.registry.gates import read_run_audit
from training.registry.loading import load_holdout, load_model
from training.registry.tracking import client

matplotlib.use("Agg")
pl.Config.set_tbl_rows(40)
pl.Config.set_fmt_str_lengths(160)

settings = notebook_settings(SPONSORS, SEED)
tracking = client(settings)
model, info = load_model(settings, ALIAS)
run = tracking.get_run(info["run_id"])
print(f"{info['name']} v{info['version']} (aliases: {', '.join(info['aliases'])}), "
      f"run {info['run_id']}")
print(f"trained until {info['training_window']['until']}, horizon "
      f"{info['training_window']['horizon_months']} months, feature set "
      f"{info['feature_set_version']} ({len(model.feature_names)} features)")
print("data:", info["data"])

# %% [markdown]
# ## Precision at k against the baselines
#
# As the training run logged them: on the held-out snapshots (`holdout.`, the latest
# time fold, never seen in training) and pooled over every fold's test snapshots
# (`pooled.`). Slices: all labelled snapshots, those labelled by RANDOM inspections (the
# unbiased ones) and, in simulated worlds, every snapshot against the truth.

# %%
metrics = run.data.metrics
tables = {stage: metrics_table(metrics, f"{stage}.") for stage in ("holdout", "pooled")}
precision = pl.concat([
    table.filter(pl.col("metric").str.starts_with("precision_at_"))
    .with_columns(stage=pl.lit(stage), k=pl.col("metric").str.extract(r"(\d+)$").cast(pl.Int64))
    for stage, table in tables.items()])
display(precision.pivot(on="model", index=["stage", "slice", "k"], values="value")
        .sort("stage", "slice", "k"))
display(tables["holdout"].filter(pl.col("metric").is_in(
    ["average_precision", "base_rate", "brier", "auc_roc", "n", "positives"]))
    .pivot(on="metric", index=["model", "slice"], values="value"))

# %%
colours = {"xgboost": "tab:blue", "logistic": "tab:orange", "crude_rule": "tab:gray"}
slices = sorted(precision["slice"].unique().to_list())
fig, axes = plt.subplots(1, len(slices), figsize=(4.5 * len(slices), 3.5), squeeze=False)
for ax, name in zip(axes[0], slices, strict=True):
    part = precision.filter((pl.col("stage") == "holdout") & (pl.col("slice") == name))
    ks = sorted(part["k"].unique().to_list())
    for offset, (kind, colour) in enumerate(colours.items()):
        values = dict(part.filter(pl.col("model") == kind).select("k", "value").iter_rows())
        ax.bar(np.arange(len(ks)) + 0.25 * (offset - 1), [values.get(k, 0.0) for k in ks],
               width=0.25, color=colour, label=kind)
    ax.set_xticks(range(len(ks)), [str(k) for k in ks])
    ax.set(title=f"held-out precision at k ({name})", xlabel="k", ylim=(0, 1))
    ax.legend(fontsize=8)
show(fig)

# %% [markdown]
# ## Calibration on the held-out snapshots
#
# The run's held-out labelled snapshots (an artifact of the run) scored again with the
# loaded model: does a score of 0.3 mean a violation about 30 % of the time? And the
# precision at every k on those snapshots, against the crude rule.

# %%
holdout = load_holdout(settings, info["run_id"])
predictions = holdout.select("sponsor_id", "as_of", "label", "selection").with_columns(
    pl.Series("score_xgboost", model.predict(holdout)),
    pl.lit(None, dtype=pl.Float64).alias("truth"))
if all(c in holdout.columns for c in CRUDE_RULE_INPUTS):
    predictions = predictions.with_columns(pl.Series("score_crude_rule",
                                                     crude_rule_score(holdout)))
curve = calibration_curve(predictions["label"].cast(pl.Float64).to_numpy(),
                          predictions["score_xgboost"].to_numpy(), n_bins=5)
display(pl.DataFrame(curve).rename({"predicted": "mean score", "observed": "violation rate"}))
show(calibration_figure(predictions))
show(precision_at_k_figure(predictions, max_k=predictions.height))

# %% [markdown]
# What the model learned from: total gain per feature, and each feature's push on the
# held-out scores (XGBoost's own SHAP contributions).

# %%
show(importance_figure(model, top=15))
show(shap_summary_figure(model, holdout, top=12))

# %% [markdown]
# ## The sponsors it ranks highest, with their reasons
#
# The latest feature snapshot scored with this version (`training.fitting.scoring.score_frame`,
# as `sponsorwatch score` does, without writing anything): every score carries its
# strongest reasons.

# %%
latest = max(scan_snapshots(settings.features_dir).select("as_of").unique().collect()
             .get_column("as_of").to_list())
snapshot = scan_snapshots(settings.features_dir, [latest]).collect()
sponsors = scan_warehouse(settings.warehouse_dir)["sponsors"].collect()
ranked = score_frame(model, snapshot, sponsors, capacity=settings.inspection_capacity,
                     model_version=str(info["version"]))
print(f"{ranked.height} sponsors scored as of {latest}")
display(reasons_as_text(ranked.head(TOP_SPONSORS))
        .select("rank", "sponsor_id", "name", "sector", "score", "band", "reasons"))

# %%
top = ranked.filter(pl.col("band") == "high")
mentions = Counter(reason["feature"] for reasons in top["reasons"].to_list()
                   for reason in reasons or [])
named = mentions.most_common(12)[::-1]
fig, ax = plt.subplots(figsize=(7, 0.35 * len(named) + 1.2))
ax.barh([name for name, _ in named], [count for _, count in named], color="tab:blue")
ax.set(title=f"reasons of the {top.height} sponsors in the high band",
       xlabel="sponsors with the feature among their top reasons")
show(fig)

# %% [markdown]
# ## Fairness audit
#
# The audit the training run logged (`training.governance`): per group, the share of
# sponsors in the top k and the false-positive rate among them, each with a Wilson
# interval and the ratio to the best-off group; the proxy check and the bias scan. The
# nationality mix is derived from the restricted field by the audit alone; the model
# never sees it.

# %%
audit = read_run_audit(settings, info["run_id"])
if audit is None:
    print(f"run {info['run_id']} logged no fairness audit: it was trained before the audit "
          "was part of training; retrain it (03-retrain) to get one")
else:
    display(Markdown(audit_markdown(audit)))
    groupings = [g for g in GROUPINGS if audit["groups"].get(g)]
    rows_of_charts = -(-len(groupings) // 2)
    fig, axes = plt.subplots(rows_of_charts, 2, figsize=(12, 3.5 * rows_of_charts),
                             squeeze=False)
    for ax in list(axes.flat)[len(groupings):]:
        ax.set_visible(False)
    for ax, grouping in zip(axes.flat, groupings, strict=False):
        rows = audit["groups"][grouping]
        names = [str(r[grouping]) for r in rows]
        rate, low, high = (np.array([r[c] for r in rows], dtype=float) for c in
                           ("selection_rate", "selection_rate_lo", "selection_rate_hi"))
        # Interval ends can sit a rounding error inside a rate of 0 or 1.
        errors = np.clip(np.nan_to_num([rate - low, high - rate]), 0, None)
        ax.barh(names, np.nan_to_num(rate), xerr=errors, color="tab:purple", alpha=0.7)
        ax.axvline(audit["k"] / audit["sponsors"], color="black", linestyle=":")
        ax.set(title=f"share in the top {audit['k']} by {grouping}", xlabel="share (95% CI)")
    fig.tight_layout()
    show(fig)

# %% [markdown]
# ## Comparison with another version
#
# The other version is loaded through MLflow's own model interface (the registered
# pyfunc). Both are compared on the run metrics each logged, on the very same held-out
# snapshots of this version (what the promotion gate does), and on the latest snapshot:
# how alike their rankings are.

# %%
versions = sorted((str(v.version) for v in
                   tracking.search_model_versions(f"name='{settings.model_name}'")),
                  key=int, reverse=True)
if COMPARE_WITH:
    other_version = (str(COMPARE_WITH) if str(COMPARE_WITH).isdigit() else str(
        tracking.get_model_version_by_alias(settings.model_name, COMPARE_WITH).version))
else:
    others = [v for v in versions if v != str(info["version"])]
    other_version = others[0] if others else None
print(f"registered versions: {', '.join(versions)}; comparing v{info['version']} with "
      + (f"v{other_version}" if other_version else "nothing (only one version is registered)"))

# %%
if other_version:
    other_run_id = tracking.get_model_version(settings.model_name, other_version).run_id
    other_run = tracking.get_run(other_run_id)
    # The version's own storage location, so MLflow's process-wide URIs play no part.
    other = mlflow.pyfunc.load_model(tracking.get_model_version_download_uri(
        settings.model_name, other_version)).unwrap_python_model().model
    this_label, other_label = f"v{info['version']}", f"v{other_version}"

    keys = [f"holdout.xgboost.labelled.{m}" for m in ("average_precision", "brier", "auc_roc")]
    keys += ["holdout.xgboost.random.average_precision", "holdout.xgboost.labelled.n"]
    settings_keys = sorted(set(run.data.params) | set(other_run.data.params))
    display(pl.DataFrame(
        [{"what": f"metric {k}", this_label: f"{run.data.metrics.get(k, float('nan')):.4g}",
          other_label: f"{other_run.data.metrics.get(k, float('nan')):.4g}"} for k in keys]
        + [{"what": f"setting {k}", this_label: run.data.params.get(k, ""),
            other_label: other_run.data.params.get(k, "")} for k in settings_keys
           if run.data.params.get(k) != other_run.data.params.get(k)]))

    # A version trained on another feature set may need columns these snapshots lack.
    missing = sorted(f for f in other.feature_names
                     if f not in holdout.columns or f not in snapshot.columns)
    if missing:
        raise ValueError(f"v{other_version} needs features {missing} that v{info['version']}'s "
                         "snapshots lack: compare it on snapshots of its own feature set")
    labelled = holdout.filter(pl.col("label").is_not_null())
    y = labelled["label"].cast(pl.Float64).to_numpy()
    scores = {this_label: model.predict(labelled), other_label: other.predict(labelled)}
    k = min(settings.inspection_capacity, max(1, labelled.height // 2))
    display(pl.DataFrame([{"version": name, f"precision_at_{k}": precision_at_k(y, s, k),
                           "held-out labelled snapshots": labelled.height}
                          for name, s in scores.items()]))

    latest_scores = {this_label: ranked.sort("sponsor_id")["score"].to_numpy(),
                     other_label: other.predict(snapshot.sort("sponsor_id"))}
    capacity = settings.inspection_capacity
    tops = {name: set(np.argsort(-s, kind="stable")[:capacity])
            for name, s in latest_scores.items()}
    overlap = len(tops[this_label] & tops[other_label]) / max(len(tops[this_label]), 1)
    spearman = pl.DataFrame(latest_scores).select(
        pl.corr(this_label, other_label, method="spearman")).item()
    print(f"latest snapshot ({latest}): rank correlation {spearman:.3f}; "
          f"{overlap:.0%} of the top {capacity} in common")

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for (name, s), style in zip(scores.items(), ("-", "--"), strict=True):
        curve = precision_curve(y, s)
        left.plot(np.arange(1, curve.size + 1), curve, style, label=name)
    left.axhline(y.mean(), color="black", linestyle=":", label="random")
    left.set(title="precision at k, same held-out snapshots", xlabel="k", ylim=(0, 1))
    left.legend()
    right.scatter(latest_scores[other_label], latest_scores[this_label], s=8, alpha=0.6)
    right.set(title=f"scores as of {latest}", xlabel=other_label, ylabel=this_label)
    show(fig)
