"""Model cards, generated for every registered version, never written by hand.

A card is built from what the training run measured (metrics, data manifest, fairness
audit) and from the feature registry (names and descriptions). It comes as Markdown (for
people and the MLflow model page) and as JSON with the fields of the Dutch public algorithm
register (algoritmeregister), logged to the run and cached under the home so that the
service can answer ``GET /v1/model/card`` without MLflow on the request path.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sponsorwatch.contract import RESTRICTED_COLUMNS
from sponsorwatch.settings import Settings

if TYPE_CHECKING:
    from training.dataset import TrainingSet
    from training.fairness import FairnessAudit
    from training.registry import RegisteredVersion
    from training.stage import FeatureMeta
    from training.train import TrainResult

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


def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _headline(metrics: Mapping[str, float], k: int) -> dict[str, dict[str, float]]:
    """``{slice: {metric: value}}`` of the served model on the held-out snapshots."""
    out: dict[str, dict[str, float]] = {}
    for key, value in metrics.items():
        parts = key.split(".")
        if len(parts) != 3 or parts[0] != "xgboost":
            continue
        _, slice_name, metric = parts
        if metric in {m.format(k=k) for m in HEADLINE_METRICS}:
            out.setdefault(slice_name, {})[metric] = _finite(float(value))
    return out


def _fairness_summary(audit: Mapping[str, Any] | None) -> dict[str, Any]:
    if not audit:
        return {"status": "no fairness audit was logged for this run"}
    groups: dict[str, Any] = {}
    for grouping, rows in audit.get("groups", {}).items():
        groups[grouping] = [
            {key: _finite(row.get(key)) for key in (
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


def _gap_lines(gap: Mapping[str, Any]) -> list[str]:
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


def build_model_card(*, name: str, version: str, run_id: str, feature_names: Sequence[str],
                     descriptions: Mapping[str, str], directions: Mapping[str, int],
                     training_window: Mapping[str, Any], data: Mapping[str, Any],
                     metrics: Mapping[str, float], fairness: Mapping[str, Any] | None,
                     capacity: int, horizon_months: int, fairness_min_ratio: float,
                     random_share: float = 0.1, contact: str = CONTACT,
                     organisation: str = ORGANISATION,
                     created: datetime | None = None) -> dict[str, Any]:
    """The card of one registered model version as a JSON-ready dict.

    Raises:
        ValueError: when a feature name points at a restricted attribute: such a model must
            not be documented (or served) at all.
    """
    leaked = restricted_features(feature_names)
    if leaked:
        raise ValueError(f"restricted attribute(s) among the model's features: {leaked}")
    created = created or datetime.now(UTC)
    headline = _headline(metrics, capacity)
    fairness_summary = _fairness_summary(fairness)
    feature_rows = [{"name": f, "description": descriptions.get(f, ""),
                     "direction": int(directions.get(f, 0))} for f in feature_names]
    window = {k: _finite(v) for k, v in training_window.items()}
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
        "performance_standard": headline,
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
                 **{k: _finite(v) for k, v in data.items()}},
        "features": feature_rows,
        "excluded_attributes": list(EXCLUDED_ATTRIBUTES),
        "metrics": {"k": capacity, "holdout": headline},
        "fairness": fairness_summary,
        "known_limits": limits,
        "human_oversight": oversight,
        "contact": contact,
        "algorithm_register": register,
    }


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
        lines += _gap_lines(fairness.get("gap_attribution", {}))
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


# --------------------------------------------------------------------------------------------
# Storage and the training hook


def card_cache_dir(settings: Settings, version: str) -> Path:
    return settings.home / "model_cards" / settings.model_name / f"v{version}"


def write_card(card: Mapping[str, Any], folder: Path) -> list[Path]:
    from sponsorwatch.storage import write_json_atomic, write_text_atomic
    from training.fairness import json_safe

    paths = [folder / CARD_JSON, folder / CARD_MARKDOWN]
    write_json_atomic(json_safe(card), paths[0])
    write_text_atomic(card_markdown(card), paths[1])
    return paths


def load_model_card(settings: Settings, version: str, run_id: str | None) -> dict[str, Any]:
    """The card of a registered version: from the home's cache, else from the run's
    artifacts in MLflow (then cached).

    Raises:
        LookupError: when the version has no card.
    """
    cached = card_cache_dir(settings, version) / CARD_JSON
    if cached.exists():
        return json.loads(cached.read_text(encoding="utf-8"))
    if not run_id:
        raise LookupError(f"model version {version} has no card and no run to fetch it from")
    import tempfile

    from mlflow.exceptions import MlflowException

    from training.registry import client

    try:
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(client(settings).download_artifacts(
                run_id, f"{CARD_ARTIFACT_DIR}/{CARD_JSON}", dst_path=tmp))
            card = json.loads(local.read_text(encoding="utf-8"))
    except (MlflowException, OSError) as exc:
        raise LookupError(f"run {run_id} of model version {version} logged no model card; "
                          "retrain to generate one") from exc
    write_card(card, card_cache_dir(settings, version))
    return card


def audit_holdout(settings: Settings, result: TrainResult, data: TrainingSet,
                  descriptions: Mapping[str, str]) -> FairnessAudit:
    """The fairness audit of a training run: the registered model's ranking of every
    sponsor on the latest held-out snapshot, top k = the inspection capacity."""
    import polars as pl

    from sponsorwatch.storage import scan_warehouse
    from training.fairness import (
        contributions_frame,
        load_restricted_attributes,
        run_fairness_audit,
    )

    predictions = result.holdout.predictions
    as_of = predictions["as_of"].max()
    rows = predictions.filter(pl.col("as_of") == as_of)
    scored = rows.select("sponsor_id", "as_of", "label", "truth",
                         score=pl.col("score_xgboost"))
    features = data.rows([as_of], labelled_only=False)
    return run_fairness_audit(
        scored, features, result.model.feature_names, scan_warehouse(settings.warehouse_dir),
        load_restricted_attributes(settings.warehouse_dir, as_of), k=result.config.capacity,
        as_of=as_of, min_ratio=settings.fairness_min_ratio, seed=result.config.seed,
        descriptions=descriptions, contributions=contributions_frame(result.model, features))


def document_training_run(settings: Settings, result: TrainResult, data: TrainingSet,
                          meta: FeatureMeta, version: RegisteredVersion,
                          manifest: Mapping[str, Any]) -> dict[str, Any]:
    """Audit a logged training run for fairness and generate its model card: both go to
    the run's artifacts (``fairness/``, ``model_card/``) and metrics, the card also to the
    registered version's description and to the home's card cache. Returns the card."""
    import tempfile

    from training.fairness import json_safe, log_fairness_audit
    from training.registry import client, model_info_payload

    audit = audit_holdout(settings, result, data, meta.descriptions)
    info = model_info_payload(result, meta.version, dict(manifest))
    card = build_model_card(
        name=version.name, version=version.version or "unregistered", run_id=version.run_id,
        feature_names=result.model.feature_names, descriptions=meta.descriptions,
        directions=meta.directions, training_window=info["training_window"],
        data=info["data"], metrics=result.holdout.metrics,
        fairness=json_safe(json.loads(json.dumps(audit.to_dict(), default=str))),
        capacity=result.config.capacity, horizon_months=result.config.horizon_months,
        fairness_min_ratio=settings.fairness_min_ratio)
    mlflow_client = client(settings)
    log_fairness_audit(audit, mlflow_client, version.run_id)
    with tempfile.TemporaryDirectory() as tmp:
        write_card(card, Path(tmp))
        mlflow_client.log_artifacts(version.run_id, tmp, artifact_path=CARD_ARTIFACT_DIR)
    if version.version:
        mlflow_client.update_model_version(version.name, version.version,
                                           description=card_markdown(card))
        write_card(card, card_cache_dir(settings, version.version))
    return card
