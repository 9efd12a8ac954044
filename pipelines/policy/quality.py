"""The inspection-quality study a policy's abuse-rate estimate is corrected with.

An inspection finds a violation at an abusive sponsor with sensitivity ``s`` and at a clean
one with false-finding rate ``f`` (minor breaches, administration and notification
failures). A real inspectorate measures both with a re-inspection study; here the study is
done from data, on the world's own inspections before the loop (the history every policy
keeps), checked against the simulated truth: never from the simulator's constants.

- Sample: the RANDOM inspections opened before the loop's first year. They are a uniform
  sample of the active sponsors, so the abusers among them carry the population's mix of
  typologies (whose detection differs, 0.35 to 0.75); risk-based and tip inspections pick
  abusers of some typologies more than others and would measure another ``s``.
- Truth: abuse running on the day the inspection opened (``abuse_from <= opened_on <=
  abuse_until``, ``abuse_until`` being the last day of abuse, null while it goes on): what
  an inspection can find. The abuse rate the corrected estimate is compared with is defined
  the same way (:func:`pipelines.policy.metrics.truth_at_open`).
- Outcome: the inspection's latest recorded version (objections and appeals included),
  VIOLATION or NO_VIOLATION; inconclusive and still-open inspections are left out, as the
  plan's estimate leaves them out (missing at random within its strata).

Intervals are exact (Clopper-Pearson) 95 % intervals.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl

from sponsorwatch.history import current
from training.planning.estimates import clopper_pearson_interval

STUDY_SELECTIONS = ("RANDOM",)


def running_on(day: pl.Expr) -> pl.Expr:
    """Abuse running on ``day`` (truth columns ``abuse_from``, ``abuse_until``)."""
    return (pl.col("abuse_from").is_not_null() & (pl.col("abuse_from") <= day)
            & (pl.col("abuse_until").is_null() | (pl.col("abuse_until") >= day)))


def inspection_quality(inspections: pl.DataFrame, truth: pl.DataFrame, before: date,
                       selections: tuple[str, ...] = STUDY_SELECTIONS,
                       alpha: float = 0.05) -> dict[str, Any]:
    """Sensitivity and false-finding rate of the inspections opened before ``before`` with
    a selection in ``selections``, against the truth on their opening day.

    Returns ``sensitivity`` with ``sensitivity_lo``/``_hi``, ``abusive_inspected`` and
    ``abusive_violations``; ``false_finding_rate`` with ``false_finding_lo``/``_hi``,
    ``clean_inspected`` and ``clean_violations``; and the study's sample (``selections``,
    ``before``, ``inspections``, ``unknown_outcome``)."""
    sample = (current("inspections", inspections)
              .filter((pl.col("opened_on") < before) & pl.col("selection").is_in(selections))
              .join(truth.select("sponsor_id", "abuse_from", "abuse_until"), on="sponsor_id",
                    how="left")
              .with_columns(abusive=running_on(pl.col("opened_on")).fill_null(False)))
    known = sample.filter(pl.col("outcome").is_in(["VIOLATION", "NO_VIOLATION"]))
    out: dict[str, Any] = {"selections": list(selections), "before": str(before),
                           "inspections": sample.height,
                           "unknown_outcome": sample.height - known.height}
    for name, prefix, group in (("sensitivity", "sensitivity", "abusive"),
                                ("false_finding_rate", "false_finding", "clean")):
        rows = known.filter(pl.col("abusive") if group == "abusive" else ~pl.col("abusive"))
        hits = rows.filter(pl.col("outcome") == "VIOLATION").height
        lo, hi = clopper_pearson_interval(hits, rows.height, alpha)
        out |= {name: hits / rows.height if rows.height else None,
                f"{prefix}_lo": lo, f"{prefix}_hi": hi,
                f"{group}_inspected": rows.height, f"{group}_violations": hits}
    return out
