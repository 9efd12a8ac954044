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
# # 01 · Explore a sponsor world
#
# What is in the warehouse, how a simulated world compares with the public figures, what
# each abuse typology leaves behind in the features, and how the main features differ
# between sponsors whose inspection found a violation and those where it did not.
#
# **Inputs.** `SPONSORWATCH_HOME` (and any other `SPONSORWATCH_` setting) names a home
# that went through the stages (ingest, features, train, promote, score); a real extract
# in the contract's shape works unchanged. When it is unset, the notebook builds a small
# simulated world in `notebooks/.sponsorwatch/` on first use (a minute or two).
#
# The notebook only reads the home.

# %% tags=["parameters"]
SPONSORS = 400  # sponsors in the world built when SPONSORWATCH_HOME is unset
SEED = 20260701  # its seed
TOP_FEATURES = 8  # features per chart

# %%
import dataclasses
import json
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import polars as pl
from IPython.display import Markdown, display
from notebook_glue import notebook_settings, show, standardised_differences

from features.store import read_store_manifest, scan_snapshots
from sponsorwatch.storage import read_manifest, scan_warehouse
from training.fitting.evaluation import find_truth
from training.fitting.feature_meta import feature_meta
from training.jobs.train import load_training_set

matplotlib.use("Agg")
pl.Config.set_tbl_rows(30)

settings = notebook_settings(SPONSORS, SEED)
tables = scan_warehouse(settings.warehouse_dir)
manifest = read_manifest(settings.warehouse_dir)
# The features as the home's store holds them (a store built by an older feature set keeps
# its own list), described by the registry.
stored_names = read_store_manifest(settings.features_dir)["feature_names"]
meta = dataclasses.replace(feature_meta(settings.use_sector), names=stored_names)
print(f"home:        {settings.home}")
print(f"extract:     {manifest.get('extract_path')}")
print(f"ingested at: {manifest.get('ingested_at')}")

# %% [markdown]
# ## The warehouse
#
# Rows read per table, how many reached the clean layer and how many went to quarantine
# (with the rules they broke). Counts reconcile: every input row is clean or quarantined.

# %%
counts = pl.DataFrame([{"table": name, **{k: v for k, v in stats.items() if k != "delivered"}}
                       for name, stats in manifest["tables"].items()])
display(counts)
broken = pl.DataFrame(
    [{"table": table, "rule": rule, "rows": rows}
     for table, rules in manifest.get("rules_broken", {}).items() for rule, rows in rules.items()],
    schema={"table": pl.String, "rule": pl.String, "rows": pl.Int64})
print("quarantined rows by rule:" if broken.height else "no row was quarantined")
if broken.height:
    display(broken.sort("rows", descending=True))

# %% [markdown]
# ## Calibration against the public figures
#
# The simulator writes `calibration.json` and `calibration.md` beside the world it
# writes; the report below is rendered by its own report function. A real extract has no
# such report.

# %%
extract = Path(manifest["extract_path"]) if manifest.get("extract_path") else None
calibration_file = extract / "calibration.json" if extract else None
if calibration_file is not None and calibration_file.exists():
    from pipelines.simulate.report import render_markdown

    calibration = json.loads(calibration_file.read_text(encoding="utf-8"))
    display(Markdown(render_markdown(calibration)))
    # Figures with a number on both sides: world against what the public figure predicts
    # for a world of this size (1 = spot on).
    numeric = [row for row in calibration.get("comparisons", [])
               if isinstance(row["world"], int | float)
               and isinstance(row["expected_in_world"], int | float) and row["expected_in_world"]]
    if numeric:
        fig, ax = plt.subplots(figsize=(8, 0.45 * len(numeric) + 1.2))
        ax.barh([row["figure"] for row in numeric],
                [row["world"] / row["expected_in_world"] for row in numeric], color="tab:green")
        ax.axvline(1, color="black", linestyle=":")
        ax.invert_yaxis()
        ax.set(title="simulated world against the public figures", xlabel="world / expected")
        show(fig)
else:
    print("no calibration report beside the extract (a real extract, or moved since ingest)")

# %% [markdown]
# ## Inspections
#
# Labels come from inspections, and inspections are not a random sample: most are
# risk-based or follow a tip. Only the RANDOM ones estimate the violation rate of the
# whole population.

# %%
inspections = tables["inspections"].collect().with_columns(
    year=pl.col("opened_on").dt.year())
per_year = (inspections.group_by("year", "selection").agg(inspections=pl.len())
            .sort("year", "selection"))
by_selection = (inspections.filter(pl.col("outcome").is_in(["VIOLATION", "NO_VIOLATION"]))
                .group_by("selection")
                .agg(closed=pl.len(), violations=(pl.col("outcome") == "VIOLATION").sum())
                .with_columns(violation_rate=pl.col("violations") / pl.col("closed"))
                .sort("selection"))
display(by_selection)

fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.5))
years = sorted(per_year["year"].unique().to_list())
bottom = np.zeros(len(years))
for selection in sorted(per_year["selection"].unique().to_list()):
    part = dict(per_year.filter(pl.col("selection") == selection)
                .select("year", "inspections").iter_rows())
    heights = np.array([part.get(y, 0) for y in years], dtype=float)
    left.bar(years, heights, bottom=bottom, label=selection)
    bottom += heights
left.set(title="inspections opened per year", xlabel="year", ylabel="inspections")
left.legend()
right.bar(by_selection["selection"].to_list(), by_selection["violation_rate"].to_list(),
          color="tab:red")
right.set(title="violation rate of closed inspections", ylabel="share", ylim=(0, 1))
show(fig)

# %% [markdown]
# ## ⚠ Ground truth: exploration only
#
# **This section reads the simulator's ground truth** (`truth.parquet` beside a simulated
# extract: who abuses, which typologies, since when). It exists only for simulated worlds
# and is used here only, to see what each typology leaves in the features. Features,
# labels, models and scores never read it; model evaluation against it lives in
# `training.fitting.evaluation`.
#
# For the latest feature snapshot, each typology's sponsors (abusing on that day) are
# compared with the honest sponsors: the standardised difference of each feature's mean
# (in pooled standard deviations).

# %%
snapshot_days = sorted(scan_snapshots(settings.features_dir).select("as_of").unique()
                       .collect().get_column("as_of").to_list())
latest = snapshot_days[-1]
snapshot = scan_snapshots(settings.features_dir, [latest]).collect()
truth_file = find_truth(settings.warehouse_dir)
truth = pl.read_parquet(truth_file) if truth_file is not None else None
print(f"latest feature snapshot: {latest} ({snapshot.height} active sponsors)")
print(f"truth: {truth_file or 'none (not a simulated world): this section is skipped'}")

# %%
traces = []  # one frame per typology with abusing sponsors on that day
if truth is not None:
    known = snapshot.join(truth, on="sponsor_id", how="left").with_columns(
        abusing=pl.col("is_abusive").fill_null(False) & (pl.col("abuse_from") <= latest))
    typologies = sorted(truth.get_column("typologies").explode().drop_nulls().unique()
                        .to_list())
    honest = ~pl.col("is_abusive").fill_null(False)
    for typology in typologies:
        members = pl.col("abusing") & pl.col("typologies").list.contains(typology)
        group = known.filter(members | honest)
        sponsors = known.filter(members).height
        if sponsors == 0:
            continue
        traces.append(standardised_differences(group, members, meta.names)
                      .with_columns(typology=pl.lit(typology), sponsors=pl.lit(sponsors)))

# %%
if traces:
    traces_long = pl.concat(traces)
    strongest = (traces_long.group_by("typology", "sponsors", maintain_order=True)
                 .agg(pl.col("feature").head(3).alias("strongest traces"),
                      pl.col("difference").head(3).round(2).alias("differences (sd)")))
    display(strongest)

    shown = (traces_long.group_by("feature").agg(pl.col("difference").abs().max())
             .sort("difference", descending=True, nulls_last=True)
             .head(2 * TOP_FEATURES).get_column("feature").to_list())
    matrix = (traces_long.filter(pl.col("feature").is_in(shown))
              .pivot(on="typology", index="feature", values="difference")
              .select("feature", *[t for t in typologies if t in traces_long["typology"]]))
    grid = matrix.drop("feature").to_numpy().astype(float)
    limit = float(np.nanmax(np.abs(grid))) if np.isfinite(grid).any() else 1.0
    fig, ax = plt.subplots(figsize=(1.2 * grid.shape[1] + 4, 0.35 * grid.shape[0] + 1.5))
    image = ax.imshow(np.nan_to_num(grid), cmap="coolwarm", vmin=-limit, vmax=limit,
                      aspect="auto")
    ax.set_xticks(range(grid.shape[1]), matrix.columns[1:], rotation=30, ha="right")
    ax.set_yticks(range(grid.shape[0]), matrix["feature"].to_list())
    ax.set_title(f"traces of each typology as of {latest} (sd from honest sponsors)")
    fig.colorbar(image, ax=ax, label="standardised difference")
    show(fig)

# %% [markdown]
# ## The main features of labelled sponsors
#
# Every feature snapshot with a complete label window, joined with its label (1 when an
# inspection within the horizon found a violation, 0 when it found none): the
# features that differ most between the two, and their distributions.

# %%
data = load_training_set(settings, latest, settings.horizon_months, meta)
labelled = data.frame.filter(pl.col("label").is_not_null())
display(labelled.group_by("selection").agg(rows=pl.len(), positives=pl.col("label").sum())
        .with_columns(rate=pl.col("positives") / pl.col("rows")).sort("selection"))
differences = standardised_differences(labelled, pl.col("label") == 1, meta.names)
main = differences.head(TOP_FEATURES).with_columns(
    description=pl.col("feature").replace_strict(meta.descriptions, default=""))
display(main)

# %%
columns = 4
rows = -(-main.height // columns)
fig, axes = plt.subplots(rows, columns, figsize=(4 * columns, 3 * rows), squeeze=False)
for ax, feature in zip(axes.flat, main["feature"].to_list(), strict=False):
    known = labelled.select("label", feature).drop_nulls().drop_nans()
    bins = np.histogram_bin_edges(known[feature].to_numpy(), bins=20)
    for label, colour in ((0, "tab:blue"), (1, "tab:red")):
        values = known.filter(pl.col("label") == label).get_column(feature).to_numpy()
        if values.size:
            ax.hist(values, bins=bins, density=True, alpha=0.5, color=colour,
                    label=f"label {label} (n={values.size})")
    ax.set_title(feature, fontsize=9)
    ax.legend(fontsize=7)
for ax in list(axes.flat)[main.height:]:
    ax.set_visible(False)
fig.suptitle("main features by inspection outcome (labelled snapshots)")
fig.tight_layout()
show(fig)
