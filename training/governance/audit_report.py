"""The fairness audit as a readable Markdown report.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from training.governance.disparity import OUTCOMES
from training.governance.groups import RESTRICTED_GROUPING


def _pct(value: float | None) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) \
        else f"{100 * value:.1f}%"


def _ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def audit_markdown(audit: Mapping[str, Any]) -> str:
    """A readable report of an audit (as returned by :meth:`FairnessAudit.to_dict`)."""
    lines = [f"# Fairness audit (top {audit['k']} of {audit['sponsors']} sponsors"
             + (f", as of {audit['as_of']})" if audit.get("as_of") else ")"), "",
             f"Gate: {audit['gate_metric']} ratio to the best-off group of "
             f"{RESTRICTED_GROUPING} at least {audit['min_ratio']:.2f} (or not significant): "
             f"**{'passed' if audit['passed'] else 'REFUSED'}**", ""]
    lines += [f"- {b}" for b in audit.get("breaches", [])]
    lines += [f"- not measured: {u}" for u in audit.get("unmeasured", [])]
    basis = audit.get("basis") or {}
    if basis:
        snapshots = basis.get("snapshots") or []
        lines += ["", f"Measured on {basis.get('rows', '?')} sponsor snapshots"
                  + (f" pooled over {len(snapshots)} snapshot(s) "
                     f"({snapshots[0]} to {snapshots[-1]})" if snapshots else "")
                  + f", labels of {basis.get('inspections', 'all labelled')} inspections"
                  + (f": {basis['reason']}" if basis.get("reason") else "") + "."]
    for grouping, rows in audit["groups"].items():
        lines += ["", f"## By {grouping.replace('_', ' ')}", ""]
        outcomes = [o for o in OUTCOMES if rows and f"precision_{o}" in rows[0]]
        header = ["group", "sponsors", "selected", "share selected (95% CI)", "ratio"]
        for o in outcomes:
            header += [f"precision ({o})", f"FPR ({o})", f"FPR ratio ({o})", f"FDR ({o})"]
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for r in rows:
            cells = [str(r[grouping]), str(r["sponsors"]), str(r["selected"]),
                     f"{_pct(r['selection_rate'])} ({_pct(r['selection_rate_lo'])}–"
                     f"{_pct(r['selection_rate_hi'])})", _ratio(r["selection_rate_ratio"])]
            for o in outcomes:
                cells += [_pct(r[f"precision_{o}"]),
                          f"{_pct(r[f'fpr_{o}'])} ({_pct(r[f'fpr_{o}_lo'])}–"
                          f"{_pct(r[f'fpr_{o}_hi'])})",
                          _ratio(r[f"fpr_{o}_ratio"]), _pct(r[f"fdr_{o}"])]
            lines.append("| " + " | ".join(cells) + " |")
    proxy = audit.get("proxy_check", {})
    lines += ["", "## Proxy check", ""]
    if "balanced_accuracy" in proxy:
        lines += [f"Features predict {RESTRICTED_GROUPING} ({len(proxy['classes'])} classes, "
                  f"{proxy['sponsors']} sponsors, {proxy['folds']}-fold CV): balanced accuracy "
                  f"{proxy['balanced_accuracy']:.3f} (chance "
                  f"{proxy['balanced_accuracy_chance']:.3f}), macro AUC "
                  f"{proxy['auc_macro']:.3f} (chance 0.5).", "",
                  "Strongest proxies (drop in balanced accuracy when permuted):", ""]
        lines += [f"- `{p['feature']}` {p['balanced_accuracy_drop']:.3f} ± {p['std']:.3f}"
                  + (f": {p['description']}" if p["description"] else "")
                  for p in proxy["strongest_proxies"]]
    else:
        lines.append(f"Skipped: {proxy.get('skipped', 'no data')}")
    lines += _gap_markdown(audit.get("gap_attribution", {}))
    scan = audit.get("bias_scan", {})
    lines += ["", "## Bias scan", "",
              f"{scan.get('method', '')}; average selection rate "
              f"{_pct(scan.get('average_selection_rate'))}.", "",
              "| cluster | sponsors | selected | rate (95% CI) | × average | flagged | "
              "describing features |", "|---|---|---|---|---|---|---|"]
    for c in scan.get("clusters", []):
        described = "; ".join(f"{f['feature']} {f['standardised_difference']:+.1f} sd"
                              for f in c["describing_features"])
        lines.append(f"| {c['cluster']} | {c['sponsors']} | {c['selected']} | "
                     f"{_pct(c['selection_rate'])} ({_pct(c['selection_rate_lo'])}–"
                     f"{_pct(c['selection_rate_hi'])}) | {c['ratio_to_average']:.1f} | "
                     f"{'yes' if c['flagged'] else 'no'} | {described} |")
    return "\n".join(lines) + "\n"


def _gap_markdown(gap: Mapping[str, Any]) -> list[str]:
    lines = ["", f"## Where the {RESTRICTED_GROUPING.replace('_', ' ')} FPR gap comes from", ""]
    if "groups" not in gap:
        return lines + [f"Skipped: {gap.get('skipped', 'not computed')}"]
    metric = f"fpr_{gap['outcome']}"
    lines += [f"Non-abusive sponsors ({gap['outcome']}) of each worse-off group against the "
              f"best-off group {gap['reference_group']} ({gap['reference_negatives']}): "
              f"{gap['method']}.", "",
              "| group | non-abusive | FPR ratio | score gap | features raising it most |",
              "|---|---|---|---|---|"]
    for g in gap["groups"]:
        raising = "; ".join(f"{f['feature']} +{f['gap']:.2f}" for f in g["features"])
        lines.append(f"| {g['group']} | {g['negatives']} | {_ratio(g[f'{metric}_ratio'])} | "
                     f"{g['margin_gap']:+.2f} | {raising} |")
    return lines
