"""The model card as Markdown (the MLflow model page and the analyst pages render it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def _pct(value: Any) -> str:
    return "–" if value is None else f"{100 * float(value):.1f}%"


def card_markdown(card: Mapping[str, Any]) -> str:
    """The card as Markdown (the MLflow model page renders it)."""
    model = card["model"]
    lines = [f"# Model card: {model['name']} version {model['version']}", "",
             f"Generated {model['created']} from run `{model['run_id']}`; never edited by hand.",
             "", "## Purpose", "", card["purpose"], "", "## Intended use", "",
             card["intended_use"], "", "Out of scope: " + "; ".join(card["out_of_scope"]) + ".",
             "", "## Data", "", card["data"]["sources"], ""]
    window = card["data"].get("training_window") or {}
    lines += [f"- {key.replace('_', ' ')}: {value}" for key, value in window.items()]
    for key in ("rows", "labelled_rows", "positive_rows", "random_labelled_rows", "sponsors"):
        if card["data"].get(key) is not None:
            lines.append(f"- {key.replace('_', ' ')}: {card['data'][key]}")
    lines += ["", "## Features", "", "| feature | direction | description |", "|---|---|---|"]
    arrows = {1: "higher = riskier", -1: "lower = riskier", 0: "–"}
    lines += [f"| `{f['name']}` | {arrows.get(f['direction'], '–')} | {f['description']} |"
              for f in card["features"]]
    lines += ["", "## Excluded attributes", "",
              "Never features: " + ", ".join(card["excluded_attributes"]) + ".", "",
              f"## Metrics (held-out snapshots, k = {card['metrics']['k']})", ""]
    holdout = card["metrics"]["holdout"]
    if holdout:
        names = sorted({m for values in holdout.values() for m in values})
        lines += ["| slice | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
        for slice_name, values in holdout.items():
            lines.append(f"| {slice_name} | " + " | ".join(
                "–" if values.get(m) is None else f"{values[m]:.3f}" for m in names) + " |")
    lines += estimate_lines(card["metrics"].get("estimates"))
    lines += ["", "## Fairness", ""]
    fairness = card["fairness"]
    if "gate" in fairness:
        gate = fairness["gate"]
        lines += [f"Top {fairness['top_k']} of {fairness['sponsors']} sponsors as of "
                  f"{fairness['as_of']}. Gate ({gate['metric']} ratio ≥ {gate['min_ratio']}): "
                  f"**{'passed' if gate['passed'] else 'refused'}**."]
        lines += [f"- breach: {b}" for b in gate["breaches"]]
        for grouping, rows in fairness["groups"].items():
            lines += ["", f"### By {grouping.replace('_', ' ')}", "",
                      "| group | sponsors | share selected | ratio | FPR (labels) | FPR ratio |",
                      "|---|---|---|---|---|---|"]
            for row in rows:
                ratio = row.get("selection_rate_ratio")
                fpr_ratio = row.get("fpr_label_ratio")
                lines.append(
                    f"| {row[grouping]} | {row['sponsors']} | {_pct(row['selection_rate'])} | "
                    f"{'–' if ratio is None else f'{ratio:.2f}'} | {_pct(row.get('fpr_label'))} "
                    f"| {'–' if fpr_ratio is None else f'{fpr_ratio:.2f}'} |")
        proxy = fairness.get("proxy_check", {})
        if "auc_macro" in proxy:
            lines += ["", "### Proxy check", "",
                      f"The features predict the nationality mix with balanced accuracy "
                      f"{proxy['balanced_accuracy']:.3f} (chance "
                      f"{proxy['balanced_accuracy_chance']:.3f}) and macro AUC "
                      f"{proxy['auc_macro']:.3f} (chance 0.5). Strongest proxies: "
                      + ", ".join(f"`{p['feature']}`" for p in proxy["strongest_proxies"]) + "."]
        lines += gap_lines(fairness.get("gap_attribution", {}))
        flagged = fairness.get("bias_scan", {}).get("flagged_clusters", [])
        lines += ["", "### Bias scan", "",
                  f"{len(flagged)} cluster(s) selected at least twice as often as average."]
        for c in flagged:
            described = ", ".join(f"{f['feature']} ({f['standardised_difference']:+.1f} sd)"
                                  for f in c["describing_features"])
            lines.append(f"- cluster {c['cluster']}: {c['sponsors']} sponsors, "
                         f"{_pct(c['selection_rate'])} selected "
                         f"({c['ratio_to_average']:.1f}× average); {described}")
    else:
        lines.append(fairness.get("status", ""))
    lines += ["", "## Known limits", ""] + [f"- {limit}" for limit in card["known_limits"]]
    lines += ["", "## Human oversight", "", card["human_oversight"], "",
              "## Algorithm register (algoritmeregister)", ""]
    for key, value in card["algorithm_register"].items():
        if isinstance(value, dict):
            value = json.dumps(value, default=str)
        lines.append(f"- **{key.replace('_', ' ')}**: {value}")
    lines += ["", "## Contact", "", card["contact"]]
    return "\n".join(lines) + "\n"


def gap_lines(gap: Mapping[str, Any]) -> list[str]:
    """The card's short form of the audit's gap attribution: per worse-off group, the
    features that raise its non-abusive sponsors' scores most."""
    if not gap.get("groups"):
        return []
    lines = ["", "### Where the nationality-mix FPR gap comes from", "",
             f"Against {gap['reference_group']}, {gap['method']}:"]
    for g in gap["groups"]:
        raising = ", ".join(f"`{f['feature']}` +{f['gap']:.2f}" for f in g["features"])
        lines.append(f"- {g['group']} ({g['negatives']} non-abusive sponsors, score gap "
                     f"{g['margin_gap']:+.2f}): {raising or 'no feature raises it'}")
    return lines


def _interval(entry: Mapping[str, Any]) -> tuple[str, str]:
    """(estimate, interval) of one estimate, or ("not measurable", reason)."""
    if not entry.get("measurable"):
        return "not measurable", str(entry.get("reason", ""))
    return f"{entry['estimate']:.3f}", f"{entry['lo']:.3f} – {entry['hi']:.3f}"


def estimate_lines(estimates: Mapping[str, Any] | None) -> list[str]:
    """The card's estimates with 95 % intervals on RANDOM inspections, the population
    violation rate and the calibration evidence, each with its method and rows."""
    if not estimates:
        return ["", "### Estimates with intervals", "",
                "No estimates with intervals were computed for this version."]
    rows = estimates["rows"]
    level = f"{100 * estimates['level']:.0f}%"
    lines = ["", f"### Estimates with {level} intervals (held-out RANDOM inspections)", "",
             f"{rows['random_labelled']} labelled RANDOM inspections of "
             f"{rows['random_sponsors']} sponsors among {rows['labelled']} labelled and "
             f"{rows['holdout']} held-out snapshots; "
             f"{rows['labelled_with_inclusion_probability']} labelled with a known inclusion "
             f"probability. Bootstrap: {estimates['bootstrap']['resamples']} resamples of "
             f"sponsors, seed {estimates['bootstrap']['seed']}.", "",
             f"| metric | estimate | {level} interval | method | rows |", "|---|---|---|---|---|"]
    entries = {**estimates["metrics"],
               "population_violation_rate": estimates["population_violation_rate"]}
    for name, entry in entries.items():
        value, interval = _interval(entry)
        lines.append(f"| {name.replace('_', ' ')} | {value} | {interval} | "
                     f"{entry.get('method', '–')} | {entry.get('rows', '–')} |")
    evidence = estimates.get("calibration_evidence")
    if evidence:
        lines += ["", "### Calibration evidence", "",
                  f"Observed violation rate per score range ({evidence['method']}); RANDOM "
                  f"inspections where a range has at least {evidence['min_inspected']}, else "
                  "all labelled inspections (mostly chosen by risk), else too few to state a "
                  "rate.", "",
                  "| score range | basis | inspected | violations | observed | "
                  f"{level} interval | mean predicted |", "|---|---|---|---|---|---|---|"]
        for r in evidence["ranges"]:
            observed = _pct(r.get("observed")) if r["basis"] != "thin" else "too few"
            interval = (f"{_pct(r['observed_lo'])} – {_pct(r['observed_hi'])}"
                        if r["basis"] != "thin" else "–")
            lines.append(f"| {r['lo']:.2f}–{r['hi']:.2f} | {r['basis']} | {r['inspected']} | "
                         f"{r['violations']} | {observed} | {interval} | "
                         f"{_pct(r.get('mean_predicted'))} |")
    return lines
