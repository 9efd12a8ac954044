"""One snapshot's health report: what moved, against what, and which moves are alerts.

An alert needs both a size and a significance, so that a large world does not alert on
shifts too small to matter and a small one does not alert on noise, and the significance is
Holm-corrected within each family of tests (55 features, 8 delivered columns, 21 sectors):

- ``feature_step``: a feature's PSI against the previous snapshot above
  ``step_psi`` and its KS test significant. The monthly step, not the distance from the
  training window, is what a change in the data shows first; slow drift (the criterion
  indexed faster than the wages of other staff, companies ageing) moves a feature by a few
  hundredths a month and is reported as ``feature_drift`` without failing the run, unless its
  PSI against the training window passes ``reference_psi``;
- ``null_share``: a feature's missing share moved by ``null_jump`` or more from the
  training window's, significant (a column delivered empty shows as null share -> 1);
- ``input_empty``: a delivered column empty in ``empty_jump`` more of the rows received since
  the previous snapshot than in the training window's deliveries;
- ``sector_mix``: a sector's share of the applications received since the previous snapshot
  at most 1/``sector_ratio`` or at least ``sector_ratio`` times its share in the window
  (with ``sector_min_expected`` applications expected), significant;
- ``thresholds``: the salary criterion table lacks the yearly step of the snapshot's year;
- ``score_step``: the score distribution's PSI against the previous snapshot above
  ``score_step_psi``, significant; ``top_overlap``: fewer than ``min_top_overlap`` of the
  previous top k still in the top k;
- ``calibration``: on the RANDOM outcomes known so far (of at least
  ``calibration_min_sponsors`` sponsors, since one sponsor's outcome labels each of its
  snapshots), the mean score off the observed violation rate by more than
  ``calibration_gap`` and outside the rate's exact (Clopper-Pearson) interval. Not the
  bootstrap interval of calibration in the large: with no violation among the outcomes it
  reflects only the scores' spread, not the labels' uncertainty.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import polars as pl

from training.monitoring import drift, inputs, outcomes

REPORT_VERSION = 1


@dataclass(frozen=True)
class Thresholds:
    """Alert thresholds (``Settings.monitor_*`` carry the served values)."""

    alpha: float = 0.01
    step_psi: float = 0.25
    reference_psi: float = 1.0
    drift_warning_psi: float = 0.25
    null_jump: float = 0.2
    empty_jump: float = 0.5
    min_rows: int = 20
    sector_ratio: float = 2.0
    sector_min_expected: float = 10.0
    score_step_psi: float = 0.25
    min_top_overlap: float = 0.3
    calibration_gap: float = 0.1
    calibration_min_sponsors: int = 30


@dataclass
class MonitorInputs:
    """Everything one snapshot's report is computed from (read by ``training.jobs``)."""

    as_of: dt.date
    previous_as_of: dt.date | None
    features: Sequence[str]
    reference: pl.DataFrame
    current: pl.DataFrame
    previous: pl.DataFrame | None
    reference_scores: pl.DataFrame
    scores: pl.DataFrame
    previous_scores: pl.DataFrame | None
    past_scores: pl.DataFrame
    tables: Mapping[str, pl.LazyFrame | pl.DataFrame]
    thresholds: pl.DataFrame
    horizon_months: int = 12
    capacity: int = 100
    model_version: str | None = None
    reference_dates: list[str] = field(default_factory=list)


def _alert(check: str, subject: str, value: float | None, threshold: float,
           detail: str, severity: str = "alert") -> dict[str, Any]:
    return {"check": check, "subject": subject, "value": value, "threshold": threshold,
            "detail": detail, "severity": severity}


def top_overlap(scores: pl.DataFrame, previous: pl.DataFrame | None, k: int) -> float | None:
    """Share of the previous snapshot's top ``k`` (by score) still in the top ``k``."""
    if previous is None or previous.height == 0 or scores.height == 0:
        return None

    def top(frame: pl.DataFrame) -> set[str]:
        return set(frame.sort(["score", "sponsor_id"], descending=[True, False])
                   .head(k)["sponsor_id"].to_list())

    before = top(previous)
    return len(top(scores) & before) / len(before) if before else None


def feature_alerts(table: pl.DataFrame, limits: Thresholds) -> list[dict[str, Any]]:
    """Alerts (and drift warnings) of the per-feature table of ``drift.feature_drift``."""
    out = []
    for row in table.iter_rows(named=True):
        name, significant = row["feature"], row["ks_pvalue_holm"] < limits.alpha
        step = row.get("step_psi")
        if (step is not None and step > limits.step_psi
                and row["step_ks_pvalue_holm"] < limits.alpha):
            out.append(_alert("feature_step", name, step, limits.step_psi,
                              "PSI against the previous snapshot"))
        if significant and row["psi"] > limits.reference_psi:
            out.append(_alert("feature_drift", name, row["psi"], limits.reference_psi,
                              "PSI against the training window"))
        elif significant and row["psi"] > limits.drift_warning_psi:
            out.append(_alert("feature_drift", name, row["psi"], limits.drift_warning_psi,
                              "PSI against the training window: consider retraining",
                              "warning"))
        jump = abs(row["null_share"] - row["null_share_reference"])
        if jump >= limits.null_jump and row["null_pvalue_holm"] < limits.alpha:
            out.append(_alert("null_share", name, row["null_share"], limits.null_jump,
                              f"missing in {row['null_share']:.1%} of sponsors, "
                              f"{row['null_share_reference']:.1%} in the training window"))
    return out


def input_alerts(empty: pl.DataFrame, sectors: pl.DataFrame, coverage: dict[str, Any],
                 limits: Thresholds) -> list[dict[str, Any]]:
    """Alerts on the raw deliveries and the criterion table."""
    out = []
    for row in empty.iter_rows(named=True):
        if row["rows"] < limits.min_rows or row["empty_share"] is None:
            continue
        jump = row["empty_share"] - (row["empty_share_reference"] or 0.0)
        if jump >= limits.empty_jump and row["pvalue_holm"] < limits.alpha:
            out.append(_alert("input_empty", f"{row['table']}.{row['column']}",
                              row["empty_share"], limits.empty_jump,
                              f"empty in {row['empty_share']:.1%} of {row['rows']} rows "
                              f"received, {row['empty_share_reference']:.1%} in the window"))
    for row in sectors.iter_rows(named=True):
        ratio = row["ratio"]
        if (ratio is None or row["expected"] < limits.sector_min_expected
                or row["pvalue_holm"] >= limits.alpha):
            continue
        if ratio >= limits.sector_ratio or ratio <= 1 / limits.sector_ratio:
            out.append(_alert("sector_mix", row["sector"], ratio, limits.sector_ratio,
                              f"{row['applications']} applications, "
                              f"{row['expected']:.1f} expected"))
    if coverage["missing_step"]:
        out.append(_alert("thresholds", ", ".join(coverage["missing_step"]), None, 0.0,
                          f"no salary criterion from 1 January {coverage['year']} or later"))
    return out


def score_alerts(shift: dict[str, Any], overlap: float | None,
                 outcome: dict[str, Any], limits: Thresholds) -> list[dict[str, Any]]:
    out = []
    step = shift.get("step_psi")
    if (step is not None and step > limits.score_step_psi
            and shift["step_ks_pvalue"] < limits.alpha):
        out.append(_alert("score_step", "score", step, limits.score_step_psi,
                          "PSI of the scores against the previous snapshot"))
    if overlap is not None and overlap < limits.min_top_overlap:
        out.append(_alert("top_overlap", "top k", overlap, limits.min_top_overlap,
                          "share of the previous top k still in the top k"))
    observed = outcome["metrics"].get("base_rate", {})
    mean = outcome.get("mean_score")
    if (observed.get("measurable") and mean is not None
            and outcome.get("random_sponsors", 0) >= limits.calibration_min_sponsors
            and abs(mean - observed["estimate"]) > limits.calibration_gap
            and not observed["lo"] <= mean <= observed["hi"]):
        out.append(_alert("calibration", "RANDOM outcomes", mean - observed["estimate"],
                          limits.calibration_gap, "mean score minus the observed violation "
                          "rate, outside the rate's exact interval"))
    return out


def _records(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return [{k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()}
            for row in frame.iter_rows(named=True)]


def monitor_snapshot(data: MonitorInputs, limits: Thresholds | None = None) -> dict[str, Any]:
    """The JSON-ready health report of one snapshot (see the module's docstring)."""
    limits = limits or Thresholds()
    features = drift.feature_drift(data.reference, data.current, data.features,
                                   data.previous)
    score_table = drift.feature_drift(data.reference_scores, data.scores, ["score"],
                                      data.previous_scores)
    shift = _records(score_table)[0]
    overlap = top_overlap(data.scores, data.previous_scores, data.capacity)
    window = _reference_window(data)
    previous = data.previous_as_of or window[1]
    empty = inputs.empty_columns(data.tables, data.as_of, previous, window)
    sectors = inputs.sector_mix(data.tables["permits"], inputs.section_of_sponsors(
        _collect(data.tables["sponsors"])), data.as_of, previous, window)
    coverage = inputs.threshold_coverage(data.thresholds, data.as_of)
    outcome = outcomes.outcome_metrics(data.past_scores, data.tables["inspections"],
                                       data.as_of, data.horizon_months,
                                       sorted({10, data.capacity}))
    delay = outcomes.label_delay(data.tables["inspections"], data.as_of,
                                 _months_before(data.as_of, data.horizon_months))
    alerts = (feature_alerts(features, limits) + input_alerts(empty, sectors, coverage, limits)
              + score_alerts(shift, overlap, outcome, limits))
    breaches = [a for a in alerts if a["severity"] == "alert"]
    return {
        "version": REPORT_VERSION, "as_of": str(data.as_of),
        "previous_as_of": str(data.previous_as_of) if data.previous_as_of else None,
        "model_version": data.model_version,
        "reference": {"dates": data.reference_dates or sorted(
            {str(d) for d in data.reference["as_of"].unique().to_list()}),
            "rows": data.reference.height},
        "sponsors": data.current.height,
        "thresholds": asdict(limits),
        "status": "alert" if breaches else "ok",
        "alerts": alerts,
        "summary": {
            "features_drifting": int(((features["psi"] > limits.drift_warning_psi)
                                      & (features["ks_pvalue_holm"] < limits.alpha)).sum()),
            "max_psi": _max(features["psi"]),
            "max_step_psi": _max(features["step_psi"]) if "step_psi" in features.columns
            else None,
            "max_null_share_jump": _max((features["null_share"]
                                         - features["null_share_reference"]).abs()),
            "score_psi": shift["psi"], "score_step_psi": shift.get("step_psi"),
            "score_mean": shift["mean"], "top_overlap": overlap,
        },
        "features": _records(features),
        "score": shift,
        "inputs": {"empty_columns": _records(empty), "sector_mix": _records(sectors),
                   "thresholds": coverage},
        "outcomes": outcome,
        "label_delay": delay,
    }


def _max(series: pl.Series) -> float | None:
    value = series.fill_nan(None).max()
    return None if value is None else float(value)  # type: ignore[arg-type]


def _collect(frame: pl.LazyFrame | pl.DataFrame) -> pl.DataFrame:
    return frame.collect() if isinstance(frame, pl.LazyFrame) else frame


def _months_before(day: dt.date, months: int) -> dt.date:
    return pl.select(pl.lit(day).dt.offset_by(f"-{months}mo")).item()


def _reference_window(data: MonitorInputs) -> tuple[dt.date, dt.date]:
    """The deliveries of the training window: from a month before its first snapshot (the
    previous snapshot's day, for monthly snapshots) to its last."""
    days = sorted(data.reference["as_of"].unique().to_list())
    return _months_before(days[0], 1), days[-1]
