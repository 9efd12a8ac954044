"""The model card of a registered version: what the model is for, what it may not use,
how well it ranks and how fairly, in a form for the public algorithm register.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sponsorwatch.contract import RESTRICTED_COLUMNS
from sponsorwatch.settings import Settings
from sponsorwatch.storage import json_safe
from training.governance.card_markdown import card_markdown

CARD_ARTIFACT_DIR = "model_card"


CARD_JSON, CARD_MARKDOWN = "model_card.json", "model_card.md"


ORGANISATION = "Immigratie- en Naturalisatiedienst (IND), team erkend referentschap"


CONTACT = "Maintainers of sponsorwatch: open an issue in the project's repository"


PUBLICATION_CATEGORY = "high-risk AI (EU AI Act Annex III point 7)"


#: Never a feature, and never an obvious proxy without a measured reason.
EXCLUDED_ATTRIBUTES: tuple[str, ...] = (
    "nationality", "country of origin", "ethnicity", "migration background",
    "(non-)Western origin of directors", "name of a person", "citizen service number")


#: Feature name fragments that betray a restricted attribute.
_RESTRICTED_FRAGMENTS = ("nationality", "origin", "ethnic", "country", "race", "religion")


HEADLINE_METRICS: tuple[str, ...] = (
    "precision_at_{k}", "recall_at_{k}", "average_precision", "auc_roc", "brier")


def restricted_features(feature_names: Sequence[str]) -> list[str]:
    """Features whose names point at a restricted attribute (must be none)."""
    restricted = {column for _, column in RESTRICTED_COLUMNS}
    return [f for f in feature_names if f in restricted
            or any(fragment in f.lower() for fragment in _RESTRICTED_FRAGMENTS)]


def _headline(metrics: Mapping[str, float], k: int) -> dict[str, dict[str, float]]:
    """``{slice: {metric: value}}`` of the served model on the held-out snapshots."""
    out: dict[str, dict[str, float]] = {}
    for key, value in metrics.items():
        parts = key.split(".")
        if len(parts) != 3 or parts[0] != "xgboost":
            continue
        _, slice_name, metric = parts
        if metric in {m.format(k=k) for m in HEADLINE_METRICS}:
            out.setdefault(slice_name, {})[metric] = json_safe(float(value))
    return out


def _population_rate(estimates: Mapping[str, Any] | None) -> dict[str, Any]:
    """The population violation rate with its interval and method, for the register."""
    rate = (estimates or {}).get("population_violation_rate")
    if not rate:
        return {}
    keys = ("estimate", "lo", "hi", "method", "rows") if rate.get("measurable") else (
        "reason", "rows")
    return {"population_violation_rate": {k: json_safe(rate.get(k)) for k in keys}}


def _fairness_summary(audit: Mapping[str, Any] | None) -> dict[str, Any]:
    if not audit:
        return {"status": "no fairness audit was logged for this run"}
    groups: dict[str, Any] = {}
    for grouping, rows in audit.get("groups", {}).items():
        groups[grouping] = [
            {key: json_safe(row.get(key)) for key in (
                grouping, "sponsors", "selected", "selection_rate", "selection_rate_ratio",
                "precision_label", "fpr_label", "fpr_label_lo", "fpr_label_hi",
                "fpr_label_ratio", "fdr_label", "precision_truth", "fpr_truth",
                "fpr_truth_ratio") if key in row}
            for row in rows]
    proxy = audit.get("proxy_check", {})
    scan = audit.get("bias_scan", {})
    return {
        "top_k": audit.get("k"), "sponsors": audit.get("sponsors"), "as_of": audit.get("as_of"),
        "gate": {"metric": audit.get("gate_metric"), "min_ratio": audit.get("min_ratio"),
                 "passed": audit.get("passed"), "breaches": audit.get("breaches", [])},
        "groups": groups,
        "proxy_check": {k: proxy.get(k) for k in (
            "attribute", "sponsors", "classes", "balanced_accuracy", "balanced_accuracy_chance",
            "auc_macro", "auc_chance", "strongest_proxies", "skipped") if k in proxy},
        "bias_scan": {
            "method": scan.get("method"),
            "average_selection_rate": scan.get("average_selection_rate"),
            "flagged_clusters": [
                {k: c.get(k) for k in ("cluster", "sponsors", "selected", "selection_rate",
                                       "ratio_to_average", "describing_features")}
                for c in scan.get("clusters", []) if c.get("flagged")]},
        "gap_attribution": audit.get("gap_attribution", {}),
    }


def build_model_card(*, name: str, version: str, run_id: str, feature_names: Sequence[str],
                     descriptions: Mapping[str, str], directions: Mapping[str, int],
                     training_window: Mapping[str, Any], data: Mapping[str, Any],
                     metrics: Mapping[str, float], fairness: Mapping[str, Any] | None,
                     capacity: int, horizon_months: int, fairness_min_ratio: float,
                     random_share: float = 0.1, estimates: Mapping[str, Any] | None = None,
                     contact: str = CONTACT,
                     organisation: str = ORGANISATION,
                     created: datetime | None = None) -> dict[str, Any]:
    """The card of one registered model version as a JSON-ready dict.

    ``estimates`` (``training.fitting.intervals.holdout_estimates``: RANDOM slice metrics
    with 95 % intervals, the population violation rate, the calibration evidence) go to
    ``metrics.estimates``; without them, ``data["holdout_estimates"]`` is taken (the run's
    info payload carries them there).

    Raises:
        ValueError: when a feature name points at a restricted attribute: such a model must
            not be documented (or served) at all.
    """
    leaked = restricted_features(feature_names)
    if leaked:
        raise ValueError(f"restricted attribute(s) among the model's features: {leaked}")
    created = created or datetime.now(UTC)
    data = dict(data)
    estimates = estimates or data.pop("holdout_estimates", None)
    data.pop("holdout_estimates", None)
    headline = _headline(metrics, capacity)
    fairness_summary = _fairness_summary(fairness)
    feature_rows = [{"name": f, "description": descriptions.get(f, ""),
                     "direction": int(directions.get(f, 0))} for f in feature_names]
    window = {k: json_safe(v) for k, v in training_window.items()}
    purpose = (
        "Rank recognised sponsors of knowledge migrants by the risk that they abuse the "
        "scheme (wages below the salary criterion, salary kickbacks, paper jobs, shell "
        "companies, unreported departures), so that the limited inspection capacity "
        f"(k = {capacity} per period) goes where it matters.")
    intended_use = (
        "A ranked list for human review by inspectors and analysts, each score with its top "
        "reasons. The score is never a sanction, a refusal or a decision by itself: every "
        "inspection is decided by a person, and every finding rests on the inspection.")
    limits = [
        "Selective labels: outcomes exist only for inspected sponsors, mostly chosen by risk; "
        "precision on them overstates precision on all sponsors. RANDOM inspections are the "
        "unbiased check; every plan keeps a random slice "
        f"(default {random_share:.0%}) for that reason.",
        "Inspections miss part of the abuse (detection below 100%) and record minor breaches "
        "at honest sponsors: a label is not the truth.",
        "Figures on simulated worlds come from a simulator with known truth; they show the "
        "method works, not how well it works on real data.",
        "Hard negatives (universities, start-ups, large employers with late filings, IT "
        "consultancies) can look risky; reviewers must weigh the reasons.",
        f"Scores are as of a snapshot; a record filed after that day is not in it "
        f"(label horizon {horizon_months} months).",
    ]
    oversight = (
        "Reviewers see every score with its reasons and record a decision (inspect, not now, "
        "false alarm) with a motivation in the review trail; inputs, scores and decisions are "
        "logged for at least 6 months. A challenger becomes champion only through the "
        "promotion gates (better precision at capacity on the same held-out data, and the "
        f"fairness gate: false-positive-rate ratio between nationality-mix groups of at "
        f"least {fairness_min_ratio:.2f} unless the difference is not significant), or when "
        "forced by a person with a recorded reason.")
    data_sources = (
        "IND records of recognised sponsors, their officers, residence permits under the "
        "knowledge-migrant scheme, payroll filings (tax administration, via Suwinet), employer "
        "workforce totals, sponsor notifications to the IND and past inspection outcomes "
        "(labels), in the raw-record contract version 1. permits.nationality is read only by "
        "the fairness audit.")
    methods = (
        "Gradient-boosted trees (XGBoost) with monotone constraints where the risk direction "
        "is known, calibrated to probabilities; trained on quarterly point-in-time feature "
        "snapshots with prequential time folds and a horizon-long gap; reasons from per-feature "
        "contributions (TreeSHAP). Baselines: logistic regression and the earlier crude rule.")
    register = {
        "name": f"{name} (sponsorwatch)",
        "organisation": organisation,
        "description": purpose + " " + intended_use,
        "goal": ("Target inspections of recognised sponsors at abuse of the knowledge-migrant "
                 "scheme, to protect migrants from underpayment and exploitation and the "
                 "scheme from misuse."),
        "impact": (
            "A sponsor ranked high is more likely to be inspected; an inspection is a burden "
            "for the sponsor and its migrants. No automated consequence follows from a score. "
            "Sponsors never inspected bear no effect."),
        "proportionality": (
            "The model uses only data the IND already processes for its supervision, no "
            "nationality, origin or ethnicity, and only obvious proxies with a measured "
            "reason (proxy check on every version). Against it stands a documented lift over "
            "random selection; a random slice of every plan keeps measuring it."),
        "decision_making_process": intended_use,
        "human_intervention": oversight,
        "legal_basis": (
            "Vreemdelingenwet 2000, chapter on the recognised sponsor (referent) and its duties "
            "to inform, keep records and take care; Vreemdelingenbesluit 2000; AVG article "
            "6(1)(e) (public task). To be confirmed by the legal department before publication."),
        "data_sources": data_sources,
        "methods_and_models": methods,
        "risk_management": (
            "Fairness audit per version (share selected, precision, false-positive and "
            "false-discovery rates with Wilson intervals by nationality mix, sector, size "
            "class and postcode area, with ratios to the best-off group), proxy check, "
            "unsupervised bias scan of the top k, promotion gate on the four-fifths rule, "
            "restricted field readable only by the audit, tested invariance of scores to it."),
        "monitoring": (
            "Every plan carries a random slice; its inspections estimate precision of the top "
            "and prevalence over all sponsors by inverse-propensity weighting. The audit runs "
            "on every training run and can be rerun on any score snapshot "
            "(`sponsorwatch audit-fairness`)."),
        "performance_standard": {**headline, **_population_rate(estimates)},
        "publication_category": PUBLICATION_CATEGORY,
        "status": "in development",
        "begin_date": created.date().isoformat(),
        "contact": contact,
        "version": version,
    }
    return {
        "card_version": 1,
        "model": {"name": name, "version": version, "run_id": run_id,
                  "created": created.isoformat(timespec="seconds")},
        "purpose": purpose,
        "intended_use": intended_use,
        "out_of_scope": ["Any automated sanction, refusal, fine or revocation",
                         "Assessing individual migrants", "Use without the reasons shown"],
        "data": {"sources": data_sources, "training_window": window,
                 **{k: json_safe(v) for k, v in data.items()}},
        "features": feature_rows,
        "excluded_attributes": list(EXCLUDED_ATTRIBUTES),
        "metrics": {"k": capacity, "holdout": headline,
                    "estimates": json_safe(dict(estimates)) if estimates else None},
        "fairness": fairness_summary,
        "known_limits": limits,
        "human_oversight": oversight,
        "contact": contact,
        "algorithm_register": register,
    }


def card_cache_dir(settings: Settings, version: str) -> Path:
    return settings.home / "model_cards" / settings.model_name / f"v{version}"


def write_card(card: Mapping[str, Any], folder: Path) -> list[Path]:
    from sponsorwatch.storage import json_safe, write_json_atomic, write_text_atomic

    paths = [folder / CARD_JSON, folder / CARD_MARKDOWN]
    write_json_atomic(json_safe(card), paths[0])
    write_text_atomic(card_markdown(card), paths[1])
    return paths
