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
# # 03 · Retrain with changed settings
#
# Retrain the risk model with other settings through the project's own training stage
# (`training.jobs.train.run_training`: the same time folds, baselines, MLflow logging and
# registration as `sponsorwatch train`), compare the run with the earlier ones in MLflow,
# and put the new version through the promotion gates (`training.registry.promotion.promote`),
# exactly as `sponsorwatch promote` does. Nothing is forced: a challenger that fails a
# gate stays a challenger.
#
# **Inputs.** `SPONSORWATCH_HOME` names a prepared home (unset: a small simulated world
# is built in `notebooks/.sponsorwatch/`); the settings to change are in the parameters
# cell. **This notebook writes to the home**: a new MLflow run, a new registered version
# with the alias `challenger`, and `champion` when every gate passes.

# %% tags=["parameters"]
SPONSORS = 400  # sponsors in the world built when SPONSORWATCH_HOME is unset
SEED = 20260701  # its seed
EXPERIMENT = "sponsor-risk-notebook"  # MLflow experiment of retrains from notebooks
XGB_CHANGES = {"n_estimators": 120, "max_depth": 3, "learning_rate": 0.1}
CALIBRATION = "sigmoid"  # or "isotonic"
CORRECTION = "none"  # selection correction, see training.fitting.selection.CORRECTIONS
LOG_PLOTS = False  # True logs the evaluation plots to the run as well (slower)

# %%
from datetime import date

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import polars as pl
from IPython.display import display
from notebook_glue import metrics_table, notebook_settings, show

from training.fitting.models import XGBParams
from training.fitting.train import TrainConfig
from training.jobs.train import run_training
from training.registry.loading import load_model
from training.registry.promotion import promote
from training.registry.tracking import CHALLENGER, CHAMPION, client

matplotlib.use("Agg")
pl.Config.set_tbl_rows(40)

settings = notebook_settings(SPONSORS, SEED)
champion, champion_info = load_model(settings, CHAMPION)
window = champion_info["training_window"]
print(f"home: {settings.home}")
print(f"champion: {settings.model_name} v{champion_info['version']} "
      f"(run {champion_info['run_id']}), trained until {window['until']}")

# %% [markdown]
# ## The new settings
#
# The champion's own settings with the changes of the parameters cell, on the same
# training window, so the two are comparable.

# %%
config = TrainConfig(
    until=date.fromisoformat(window["until"]),
    horizon_months=int(window["horizon_months"]),
    params=XGBParams(**champion.metadata["params"]).with_updates(**XGB_CHANGES),
    seed=settings.seed,
    calibration=CALIBRATION,
    correction=CORRECTION,
    capacity=settings.inspection_capacity,
)
# Compared as the tracking store has them: the champion run's parameters and the new ones.
champion_params = client(settings).get_run(champion_info["run_id"]).data.params
new_params = {k: str(v) for k, v in config.as_params().items()}
display(pl.DataFrame([{"setting": k, "champion": champion_params.get(k, ""), "retrain": v,
                       "changed": champion_params.get(k, "") != v}
                      for k, v in new_params.items()]).sort("changed", descending=True))

# %% [markdown]
# ## Train, evaluate, log and register

# %%
result, registered = run_training(settings, config, experiment=EXPERIMENT, plots=LOG_PLOTS)
print(f"registered {registered.name} v{registered.version} as {CHALLENGER} "
      f"(run {registered.run_id})")
holdout = metrics_table(result.holdout.metrics)
k = min(config.ks)
display(holdout.filter(pl.col("metric").is_in([f"precision_at_{k}", "average_precision",
                                               "brier", "auc_roc", "n", "positives"]))
        .pivot(on="metric", index=["model", "slice"], values="value"))

# %% [markdown]
# ## Compare in MLflow
#
# Every run of the project's experiment and of this notebook's, newest first, with the
# settings that changed and the held-out metrics of the model and its baselines.

# %%
tracking = client(settings)
experiments = [e.experiment_id for e in (tracking.get_experiment_by_name(name)
                                         for name in (settings.model_name, EXPERIMENT)) if e]
runs = pl.DataFrame([
    {"run_id": r.info.run_id, **{f"tags.{k}": v for k, v in r.data.tags.items()},
     **{f"params.{k}": v for k, v in r.data.params.items()},
     **{f"metrics.{k}": v for k, v in r.data.metrics.items()}}
    for r in tracking.search_runs(experiments, order_by=["attributes.start_time DESC"])])
wanted = ["run_id", "tags.registered_version", "params.xgb_n_estimators",
          "params.xgb_max_depth", "params.xgb_learning_rate", "params.calibration",
          "params.correction", f"metrics.holdout.xgboost.labelled.precision_at_{k}",
          "metrics.holdout.xgboost.labelled.average_precision",
          "metrics.holdout.logistic.labelled.average_precision",
          "metrics.holdout.crude_rule.labelled.average_precision",
          "metrics.holdout.xgboost.labelled.brier"]
comparison = runs.select([c for c in wanted if c in runs.columns])
display(comparison)

# %%
shown = {"xgboost": "tab:blue", "logistic": "tab:orange", "crude_rule": "tab:gray"}
labels = [f"v{v}" for v in comparison["tags.registered_version"].to_list()]
positions = np.arange(len(labels))
fig, ax = plt.subplots(figsize=(2 + 1.5 * len(labels), 3.5))
for offset, (model, colour) in enumerate(shown.items()):
    column = f"metrics.holdout.{model}.labelled.average_precision"
    if column in comparison.columns:
        ax.bar(positions + 0.25 * (offset - 1), comparison[column].fill_null(0).to_list(),
               width=0.25, color=colour, label=model)
ax.set_xticks(positions, labels)
ax.set(title="held-out average precision per registered version", ylabel="average precision",
       ylim=(0, 1))
ax.legend()
show(fig)

# %% [markdown]
# ## Promote through the gates
#
# `promote` loads the challenger and the champion, runs every gate of
# `training.registry.promotion.PROMOTION_GATES` on the challenger's held-out snapshots and moves
# `champion` only when all pass. The verdicts are recorded on the version in MLflow.

# %%
decision = promote(settings)
print(decision.summary())
display(pl.DataFrame([{"gate": r.gate, "passed": r.passed, "message": r.message}
                      for r in decision.results]))
_, now_champion = load_model(settings, CHAMPION)
print(f"champion is now v{now_champion['version']}; challenger is v{registered.version}")
