"""The results of a policy simulation: figures per policy and year over the seeds, the
issue's three acceptance checks computed from them, a chart, a JSON file, and the runs
in MLflow (a parent run per simulation, a nested run per policy and seed with the yearly
figures as steps)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pipelines.policy.config import LoopConfig
from pipelines.policy.loop import SeedRun

#: Yearly figures summarised per policy and charted.
METRICS = ("abuse_found", "abuse_detected", "plan_precision_truth", "risk_precision_truth",
           "p_at_100_truth", "true_abuse_rate", "true_abuse_rate_at_open",
           "true_violation_rate", "ht_estimate", "ht_lo", "ht_hi", "abuse_rate_estimate",
           "abuse_rate_lo", "abuse_rate_hi", "fpr_ratio_plan", "fpr_ratio_top_k")
#: Holdout numbers of a training kept in the JSON file (all of them go to MLflow).
KEPT_HOLDOUT = ("truth.auc_roc", "truth.average_precision", "truth.precision_at_100",
                "labelled.precision_at_100")
#: The acceptance's bounds.
COVERAGE_MIN, COVERAGE_SHARE, ABUSE_RATIO_MIN, P100_SLACK = 0.9, 0.05, 2.0, 0.05


def _stats(values: Iterable[float | None]) -> dict[str, float | None]:
    present = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    if not present:
        return {"mean": None, "min": None, "max": None, "n": 0}
    return {"mean": sum(present) / len(present), "min": min(present), "max": max(present),
            "n": len(present)}


def summarise(config: LoopConfig, seeds: list[SeedRun]) -> dict[str, Any]:
    """Per policy: each figure per year over the seeds, totals and the coverage."""
    policies: dict[str, Any] = {}
    for policy in config.policies():
        runs = [r for s in seeds for r in s.runs if r.policy == policy.name]
        years = [row for r in runs for row in r.years]
        by_year = {str(y): {m: _stats(row[m] for row in years if row["year"] == y)
                            for m in METRICS} for y in config.loop_years}
        covered = [row["ht_covers_abuse_rate"] for row in years]
        covered_violation = [row["ht_covers_violation_rate"] for row in years]
        widths = [row["ht_hi"] - row["ht_lo"] for row in years if row["ht_lo"] is not None]
        corrected_widths = [row["abuse_rate_hi"] - row["abuse_rate_lo"] for row in years
                            if row.get("abuse_rate_lo") is not None]

        def count(key: str, rows: list[dict[str, Any]] = years) -> int:
            return sum(1 for row in rows if row.get(key))
        trainings = [t for r in runs for t in r.trainings if t["year"] > config.first_year]
        policies[policy.name] = {
            "ranking": policy.ranking, "random_share": policy.random_share,
            "by_year": by_year,
            "abuse_found_total": sum(row["abuse_found"] for row in years),
            "abuse_found_per_seed_year": _stats(row["abuse_found"] for row in years),
            "ht_seed_years": len(years),
            "ht_covers_abuse_rate": sum(1 for c in covered if c),
            "ht_covers_violation_rate": sum(1 for c in covered_violation if c),
            "ht_interval_width": _stats(widths),
            # the corrected (Rogan-Gladen) abuse rate against the abuse running on the day
            # an inspection would open; with the study's uncertainty, without it, and
            # against the abuse running on the scoring day
            "abuse_rate_covers": count("abuse_rate_covers"),
            "abuse_rate_plugin_covers": count("abuse_rate_plugin_covers"),
            "abuse_rate_covers_scoring_day": count("abuse_rate_covers_scoring_day"),
            "abuse_rate_interval_width": _stats(corrected_widths),
            "retrainings": len(trainings),
            "promotions": sum(1 for t in trainings if t["promoted"]),
            "training_errors": sum(1 for t in trainings if t["error"]),
        }
    return {"policies": policies, "checks": acceptance(config, policies)}


def acceptance(config: LoopConfig, policies: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's three checks, each passed or failed (failed where it cannot measure)."""
    checks = []
    sampled = {n: p for n, p in policies.items() if p["random_share"] >= COVERAGE_SHARE}
    def share(p: dict[str, Any], key: str) -> float:
        return p[key] / p["ht_seed_years"] if p["ht_seed_years"] else 0.0

    shares = {n: share(p, "abuse_rate_covers") for n, p in sampled.items()}
    checks.append({
        "check": "abuse_rate_interval_covers_true_abuse_rate",
        "rule": f"with a random share of {COVERAGE_SHARE:.0%} or more, the 95% interval of the "
                f"abuse rate (HT violation rate corrected for the inspections' sensitivity "
                f"and false-finding rate) covers the true rate (abuse running on the day an "
                f"inspection opens) in at least {COVERAGE_MIN:.0%} of seed-years",
        "passed": bool(shares) and all(v >= COVERAGE_MIN for v in shares.values()),
        "values": {n: round(v, 3) for n, v in shares.items()},
        "raw": {n: {"ht_covers_true_abuse_rate": round(share(p, "ht_covers_abuse_rate"), 3),
                    "ht_covers_expected_violation_rate":
                        round(share(p, "ht_covers_violation_rate"), 3),
                    "corrected_without_study_uncertainty":
                        round(share(p, "abuse_rate_plugin_covers"), 3),
                    "corrected_covers_scoring_day_rate":
                        round(share(p, "abuse_rate_covers_scoring_day"), 3)}
                for n, p in sampled.items()},
        "note": "" if shares else "no policy with such a random share: not measurable"})
    crude = [p for p in policies.values() if p["ranking"] == "crude_rule"]
    tools = {n: p for n, p in policies.items() if p["ranking"] == "model"}
    same = [n for n, p in tools.items() if crude and p["random_share"] == crude[0]["random_share"]]
    ratio = (tools[same[0]]["abuse_found_total"] / crude[0]["abuse_found_total"]
             if same and crude[0]["abuse_found_total"] else None)
    checks.append({
        "check": "tool_finds_twice_the_crude_rule",
        "rule": f"the tool's policy finds at least {ABUSE_RATIO_MIN:g} times the abuse the "
                "crude rule's policy finds with the same capacity (and random share)",
        "passed": ratio is not None and ratio >= ABUSE_RATIO_MIN,
        "values": {"tool_policy": same[0] if same else None,
                   "ratio": None if ratio is None else round(ratio, 3),
                   **{f"ratio_{n}": round(p["abuse_found_total"] / crude[0]["abuse_found_total"],
                                          3)
                      for n, p in tools.items() if crude and crude[0]["abuse_found_total"]}},
        "note": "" if ratio is not None else "no crude-rule policy at the same random share "
                                             "(or it found nothing): not measurable"})
    first, last = str(config.first_year), str(config.last_year)
    drops = {}
    for name, p in tools.items():
        start, end = (p["by_year"][first]["p_at_100_truth"]["mean"],
                      p["by_year"][last]["p_at_100_truth"]["mean"])
        drops[name] = None if start is None or end is None or first == last else \
            round(end - start, 4)
    checks.append({
        "check": "p_at_100_holds",
        "rule": f"p@100 against the truth in year {config.years} is no lower than in year 1 "
                f"minus {P100_SLACK} (every tool policy; mean over seeds)",
        "passed": bool(drops) and all(d is not None and d >= -P100_SLACK
                                      for d in drops.values()),
        "values": {f"change_{n}": d for n, d in drops.items()},
        "note": "" if drops and first != last else "one year or no tool policy: not measurable"})
    return checks


def table_rows(summary: dict[str, Any], config: LoopConfig) -> list[list[str]]:
    """One line per policy: the figures of the first and last year and the totals."""
    first, last = str(config.first_year), str(config.last_year)
    rows = []
    for name, p in summary["policies"].items():
        def mean(year: str, metric: str, p: dict[str, Any] = p) -> str:
            value = p["by_year"][year][metric]["mean"]
            return "n/a" if value is None else f"{value:.3f}"
        rows.append([name, f"{p['abuse_found_total']}",
                     f"{p['abuse_found_per_seed_year']['mean'] or 0:.1f}",
                     mean(first, "plan_precision_truth"), mean(last, "plan_precision_truth"),
                     mean(first, "p_at_100_truth"), mean(last, "p_at_100_truth"),
                     f"{p['ht_covers_violation_rate']}/{p['ht_seed_years']}",
                     f"{p['ht_covers_abuse_rate']}/{p['ht_seed_years']}",
                     f"{p['abuse_rate_covers']}/{p['ht_seed_years']}",
                     mean(last, "fpr_ratio_plan"),
                     f"{p['promotions']}/{p['retrainings']}"])
    return rows


TABLE_HEADER = ["policy", "abuse found", "per seed-year", "precision y1", "precision yN",
                "p@100 y1", "p@100 yN", "raw HT covers viol.", "raw HT covers abuse",
                "corrected covers abuse", "FPR ratio yN", "promoted"]


def draw_chart(summary: dict[str, Any], config: LoopConfig, path: Path) -> Path:
    """Each figure over the years per policy (mean over seeds, bars from min to max)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("abuse_found", "abuse found (violations at abusive sponsors)"),
              ("plan_precision_truth", "plan precision against the truth"),
              ("p_at_100_truth", "p@100 against the truth"),
              ("ht_estimate", "raw HT violation rate (dotted: expected violation rate)"),
              ("abuse_rate_estimate", "corrected abuse rate, 95% interval mean "
                                      "(dotted: true rate at open)"),
              ("fpr_ratio_plan", "FPR ratio by nationality mix (risk-based picks)")]
    years = config.loop_years
    figure, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    colours = {name: f"C{i}" for i, name in enumerate(summary["policies"])}
    for axis, (metric, title) in zip(axes.flat, panels, strict=True):
        for name, p in summary["policies"].items():
            if metric == "abuse_rate_estimate":
                stats = [p["by_year"][str(y)] for y in years]
                means = [s[metric]["mean"] for s in stats]
                lows = [s["abuse_rate_lo"]["mean"] for s in stats]
                highs = [s["abuse_rate_hi"]["mean"] for s in stats]
            else:
                stats = [p["by_year"][str(y)][metric] for y in years]
                means = [s["mean"] for s in stats]
                lows = [s["min"] for s in stats]
                highs = [s["max"] for s in stats]
            if all(m is None for m in means):
                continue
            shown = [(y, m, lo, hi) for y, m, lo, hi in zip(years, means, lows, highs,
                                                            strict=True) if m is not None]
            xs = [s[0] for s in shown]
            axis.errorbar(xs, [s[1] for s in shown],
                                 yerr=[[s[1] - s[2] for s in shown], [s[3] - s[1] for s in shown]],
                                 marker="o", capsize=3, label=name, color=colours[name],
                                 linestyle="--" if p["ranking"] == "crude_rule" else "-")
            truth_of = {"ht_estimate": "true_violation_rate",
                        "abuse_rate_estimate": "true_abuse_rate_at_open"}
            if metric in truth_of:
                truth = [p["by_year"][str(y)][truth_of[metric]]["mean"] for y in xs]
                axis.plot(xs, truth, linestyle=":", color=colours[name], alpha=0.6)
        axis.set_title(title, fontsize=10)
        axis.set_xticks(years)
        axis.grid(alpha=0.3)
    axes.flat[0].legend(fontsize=8)
    figure.suptitle(f"closed-loop policies: {config.sponsors:,} sponsors, {len(config.seeds)} "
                    f"seeds, capacity {config.describe_capacity()}", fontsize=11)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def _rounded(value: Any, digits: int = 6) -> Any:
    """Floats of a per-run row rounded for the JSON file (MLflow keeps them whole)."""
    if isinstance(value, float) and math.isfinite(value):
        return round(value, digits)
    if isinstance(value, dict):
        return {k: _rounded(v, digits) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v, digits) for v in value]
    return value


def _kept_training(training: dict[str, Any]) -> dict[str, Any]:
    """A training's row without most holdout numbers (they stay in MLflow)."""
    return {k: v for k, v in training.items()
            if not k.startswith("holdout.") or k.split(".", 2)[-1] in KEPT_HOLDOUT}


def log_to_mlflow(settings: Any, config: LoopConfig, seeds: list[SeedRun],
                  summary: dict[str, Any], artifacts: list[Path],
                  experiment: str = "policy-simulation") -> str:
    """A parent run (the configuration, the checks, the artifacts) with a nested run per
    policy and seed: the yearly figures as metrics with the year as step, the trainings'
    gate numbers likewise. Returns the parent run's id."""
    import mlflow

    from training.registry.tracking import ensure_experiment, finite_metrics, tracking

    experiment_id = ensure_experiment(settings, experiment)
    with tracking(settings), mlflow.start_run(experiment_id=experiment_id,
                                              run_name="simulate-policy") as parent:
        mlflow.log_params({"sponsors": config.sponsors, "seeds": ",".join(map(str, config.seeds)),
                           "years": f"{config.first_year}-{config.last_year}",
                           "capacity": config.describe_capacity(),
                           "policies": ",".join(p.name for p in config.policies()),
                           "n_folds": config.n_folds, "max_train_dates": config.max_train_dates})
        mlflow.log_metrics({f"check.{c['check']}": float(c["passed"]) for c in summary["checks"]})
        for path in artifacts:
            mlflow.log_artifact(str(path))
        for seed in seeds:
            for run in seed.runs:
                with mlflow.start_run(experiment_id=experiment_id, nested=True,
                                      run_name=f"{run.policy}-seed{run.seed}"):
                    mlflow.log_params({"policy": run.policy, "ranking": run.ranking,
                                       "random_share": run.random_share, "seed": run.seed,
                                       "replaced_inspections": run.replaced_inspections})
                    for row in run.years:
                        values = {k: float(v) for k, v in row.items()
                                  if isinstance(v, int | float) and k not in ("year",)}
                        mlflow.log_metrics(finite_metrics(values), step=row["year"])
                    for training in run.trainings:
                        numbers = {f"training.{k}": float(v) for k, v in training.items()
                                   if isinstance(v, int | float) and k != "year"}
                        mlflow.log_metrics(finite_metrics(numbers), step=training["year"])
        return parent.info.run_id


def config_dict(config: LoopConfig) -> dict[str, Any]:
    from dataclasses import asdict

    return {k: (str(v) if hasattr(v, "isoformat") else v) for k, v in asdict(config).items()} | {
        "capacity_meaning": config.describe_capacity(),
        "policies": [p.name for p in config.policies()]}


def write_results(config: LoopConfig, seeds: list[SeedRun], out_dir: Path,
                  settings: Any = None, extra: dict[str, Any] | None = None,
                  name: str = "policy", experiment: str = "policy-simulation"
                  ) -> dict[str, Any]:
    """Write ``<name>.json`` and ``<name>.png`` into ``out_dir`` and, with ``settings``,
    log the runs to MLflow; returns what the JSON holds."""
    from sponsorwatch.storage import write_json_atomic

    summary = summarise(config, seeds)
    chart = draw_chart(summary, config, out_dir / f"{name}.png")
    payload: dict[str, Any] = {
        **(extra or {}), "config": config_dict(config), "checks": summary["checks"],
        "policies": summary["policies"], "chart": chart.name,
        "inspection_quality": {str(s.seed): s.quality for s in seeds},
        "seconds_per_seed": {str(s.seed): s.seconds for s in seeds},
        "runs": [{"policy": r.policy, "seed": r.seed,
                  "replaced_inspections": r.replaced_inspections,
                  "years": _rounded(r.years),
                  "trainings": _rounded([_kept_training(t) for t in r.trainings]),
                  "deliveries": r.deliveries}
                 for s in seeds for r in s.runs]}
    path = out_dir / f"{name}.json"
    write_json_atomic(payload, path)
    if settings is not None:
        payload["mlflow_run_id"] = log_to_mlflow(settings, config, seeds, summary,
                                                 [path, chart], experiment)
        payload["mlflow_experiment"] = experiment
        write_json_atomic(payload, path)
    return payload
