"""A DuckDB SQL implementation of twelve sponsor features, as an independent peer.

It re-derives the point-in-time rule in SQL (latest filing with ``filed_on <= T`` per key
and period, decisions only where ``decided_on <= T``, the latest version of a sponsor or
an inspection recorded by T, ...) and holds wages against the
threshold in force with DuckDB's ASOF JOIN, so agreement with :mod:`features` checks both
implementations, and ``benchmarks/bench_features.py`` times polars against it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import duckdb
import polars as pl

from features.context import FULL_MONTH_HOURS, LOOKBACK_MONTHS, RATIO_TOLERANCE
from features.pit import conform_all
from features.salary import EXCESS_HOURS_RATIO

#: Features computed here, each with the same meaning and name as in features.registry.
DUCKDB_FEATURES: tuple[str, ...] = (
    "salary_below_threshold_share",
    "salary_ratio_median",
    "salary_paid_vs_declared",
    "hours_excess_share",
    "late_filing_share",
    "correction_share",
    "permits_36m",
    "permit_refusal_share_36m",
    "migrant_share_of_workforce",
    "past_violations",
    "address_shared_with_revoked",
    "company_age_years",
)

#: Tables loaded into DuckDB (only the columns the SQL reads).
_TABLES = ("sponsors", "permits", "payroll", "workforce", "inspections")

FEATURES_SQL = """
WITH params AS (
    SELECT $as_of::DATE AS t, year($as_of::DATE) * 12 + month($as_of::DATE) - 1 AS tm
),
sponsors_known AS (
    -- per sponsor the latest version recorded by T; a version 1 row (no recorded_on) is
    -- known from its recognition on, its end only from the end on (checked below)
    SELECT s.* FROM sponsors s, params p
    WHERE s.recorded_on IS NULL OR s.recorded_on <= p.t
    QUALIFY s.recorded_on IS NULL
         OR s.recorded_on = max(s.recorded_on) OVER (PARTITION BY s.sponsor_id)
),
inspections_known AS (
    SELECT i.* FROM inspections i, params p
    WHERE i.recorded_on IS NULL OR i.recorded_on <= p.t
    QUALIFY i.recorded_on IS NULL
         OR i.recorded_on = max(i.recorded_on) OVER (PARTITION BY i.inspection_id)
),
active AS (
    SELECT s.* FROM sponsors_known s, params p
    WHERE s.recognised_on <= p.t
      AND (s.recognition_ended_on IS NULL OR s.recognition_ended_on > p.t)
),
payroll_known AS (
    SELECT y.*, year(y.period) * 12 + month(y.period) - 1 AS m
    FROM payroll y, params p
    WHERE y.filed_on <= p.t
      AND year(y.period) * 12 + month(y.period) - 1 >= p.tm - $lookback
    QUALIFY row_number() OVER (PARTITION BY y.sponsor_id, y.person_key, y.period
                               ORDER BY y.filed_on DESC) = 1
),
payroll_filings AS (
    SELECT y.*, year(y.period) * 12 + month(y.period) - 1 AS m
    FROM payroll y, params p
    WHERE y.filed_on <= p.t AND year(y.period) * 12 + month(y.period) - 1 > p.tm - 12
),
workforce_known AS (
    SELECT w.*, year(w.period) * 12 + month(w.period) - 1 AS m
    FROM workforce w, params p
    WHERE w.filed_on <= p.t
      AND year(w.period) * 12 + month(w.period) - 1 >= p.tm - $lookback
    QUALIFY row_number() OVER (PARTITION BY w.sponsor_id, w.period ORDER BY w.filed_on DESC) = 1
),
permits_known AS (
    SELECT x.application_id, x.sponsor_id, x.person_key, x.scheme, x.submitted_on,
           x.declared_monthly_salary, x.declared_weekly_hours,
           CASE WHEN x.decided_on <= p.t THEN x.decision ELSE 'PENDING' END AS decision,
           CASE WHEN x.decided_on <= p.t THEN x.decided_on END AS decided_on,
           CASE WHEN x.decided_on <= p.t THEN x.valid_from END AS valid_from
    FROM permits x, params p
    WHERE x.submitted_on <= p.t
),
terms AS (
    SELECT sponsor_id, person_key, scheme, declared_monthly_salary, declared_weekly_hours,
           coalesce(valid_from, submitted_on) AS terms_from,
           lead(coalesce(valid_from, submitted_on)) OVER w AS terms_until,
           row_number() OVER w = 1 AS first_terms
    FROM permits_known
    WHERE decision IN ('GRANTED', 'PENDING')
    WINDOW w AS (PARTITION BY sponsor_id, person_key
                 ORDER BY coalesce(valid_from, submitted_on), submitted_on, application_id)
),
paid AS (
    SELECT k.sponsor_id, k.period, k.gross_wage, k.hours_paid, t.scheme,
           t.declared_monthly_salary, t.declared_weekly_hours
    FROM payroll_known k
    LEFT JOIN terms t ON k.sponsor_id = t.sponsor_id AND k.person_key = t.person_key, params p
    WHERE k.m > p.tm - 12
      AND (t.terms_from IS NULL
           OR ((k.period >= t.terms_from OR t.first_terms)
               AND (t.terms_until IS NULL OR k.period < t.terms_until)))
),
paid_ratio AS (
    SELECT d.*, d.gross_wage / h.monthly_threshold AS ratio,
           d.hours_paid / (d.declared_weekly_hours * 52 / 12) AS hours_ratio,
           coalesce(d.hours_paid / (d.declared_weekly_hours * 52 / 12) >= $full_month_from,
                    true)
               AS full_month
    FROM paid d ASOF LEFT JOIN thresholds h
      ON d.scheme = h.scheme AND d.period >= h.valid_from
),
salary AS (
    SELECT sponsor_id,
           avg(CASE WHEN ratio < 1 THEN 1.0 ELSE 0.0 END)
               FILTER (WHERE ratio IS NOT NULL AND full_month) AS salary_below_threshold_share,
           median(ratio) FILTER (WHERE full_month) AS salary_ratio_median,
           median(gross_wage / declared_monthly_salary) FILTER (WHERE full_month)
               AS salary_paid_vs_declared,
           avg(CASE WHEN hours_ratio > $excess_above THEN 1.0 ELSE 0.0 END)
               FILTER (WHERE hours_ratio IS NOT NULL) AS hours_excess_share
    FROM paid_ratio GROUP BY sponsor_id
),
filing AS (
    SELECT f.sponsor_id,
           avg(CASE WHEN f.filed_on >= f.period + INTERVAL 2 MONTH THEN 1.0 ELSE 0.0 END)
               FILTER (WHERE NOT f.is_correction) AS late_filing_share,
           count(*) FILTER (WHERE f.is_correction) AS corrections
    FROM payroll_filings f GROUP BY f.sponsor_id
),
migrant_months AS (
    SELECT k.sponsor_id, count(*) AS migrant_months
    FROM payroll_known k, params p WHERE k.m > p.tm - 12 GROUP BY k.sponsor_id
),
permit_counts AS (
    SELECT x.sponsor_id,
           count(*) FILTER (WHERE year(x.submitted_on) * 12 + month(x.submitted_on) - 1
                                  > p.tm - 36) AS permits_36m,
           avg(CASE WHEN x.decision IN ('REFUSED', 'WITHDRAWN') THEN 1.0 ELSE 0.0 END)
               FILTER (WHERE x.decided_on IS NOT NULL
                       AND year(x.decided_on) * 12 + month(x.decided_on) - 1 > p.tm - 36)
               AS permit_refusal_share_36m
    FROM permits_known x, params p GROUP BY x.sponsor_id
),
latest_workforce AS (
    SELECT sponsor_id, m, headcount FROM workforce_known
    QUALIFY row_number() OVER (PARTITION BY sponsor_id ORDER BY m DESC) = 1
),
migrant_share AS (
    SELECT l.sponsor_id,
           CASE WHEN l.headcount > 0
                THEN (SELECT count(*) FROM payroll_known k
                      WHERE k.sponsor_id = l.sponsor_id AND k.m = l.m) / l.headcount
           END AS migrant_share_of_workforce
    FROM latest_workforce l
),
history AS (
    SELECT i.sponsor_id, count(*) FILTER (WHERE i.outcome = 'VIOLATION') AS past_violations
    FROM inspections_known i, params p WHERE i.closed_on <= p.t GROUP BY i.sponsor_id
),
revoked_addresses AS (
    SELECT a.sponsor_id, count(DISTINCT o.sponsor_id) AS address_shared_with_revoked
    FROM active a JOIN sponsors_known o ON a.address_key = o.address_key, params p
    WHERE o.sponsor_id <> a.sponsor_id AND o.recognised_on <= p.t
      AND o.recognition_end_reason = 'REVOKED' AND o.recognition_ended_on <= p.t
    GROUP BY a.sponsor_id
)
SELECT a.sponsor_id,
       s.salary_below_threshold_share, s.salary_ratio_median, s.salary_paid_vs_declared,
       s.hours_excess_share,
       f.late_filing_share,
       f.corrections / mm.migrant_months AS correction_share,
       coalesce(pc.permits_36m, 0) AS permits_36m,
       pc.permit_refusal_share_36m,
       ms.migrant_share_of_workforce,
       coalesce(h.past_violations, 0) AS past_violations,
       coalesce(r.address_shared_with_revoked, 0) AS address_shared_with_revoked,
       date_diff('day', a.founded_on, p.t) / 365.25 AS company_age_years
FROM active a CROSS JOIN params p
LEFT JOIN salary s USING (sponsor_id)
LEFT JOIN filing f USING (sponsor_id)
LEFT JOIN migrant_months mm USING (sponsor_id)
LEFT JOIN permit_counts pc USING (sponsor_id)
LEFT JOIN migrant_share ms USING (sponsor_id)
LEFT JOIN history h USING (sponsor_id)
LEFT JOIN revoked_addresses r USING (sponsor_id)
ORDER BY a.sponsor_id
"""


def connect(tables: Mapping[str, pl.LazyFrame], thresholds: pl.DataFrame,
            threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB holding the contract tables (conformed like features.pit does)
    and the threshold table."""
    con = duckdb.connect(":memory:")
    if threads is not None:
        con.execute(f"SET threads = {int(threads)}")
    complete = conform_all(tables)
    sources = {name: complete[name].collect() for name in _TABLES}
    sources["thresholds"] = thresholds.sort("valid_from")
    for name, frame in sources.items():
        con.register("source_frame", frame.to_arrow())
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM source_frame")
        con.unregister("source_frame")
    return con


def duckdb_features(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> pl.DataFrame:
    """The features of :data:`DUCKDB_FEATURES` for sponsors active on ``as_of``."""
    params = {"as_of": as_of, "lookback": LOOKBACK_MONTHS,
              "full_month_from": FULL_MONTH_HOURS - RATIO_TOLERANCE,
              "excess_above": EXCESS_HOURS_RATIO + RATIO_TOLERANCE}
    frame = con.sql(FEATURES_SQL, params=params).pl()
    return frame.select("sponsor_id", *(pl.col(n).cast(pl.Float64) for n in DUCKDB_FEATURES))
