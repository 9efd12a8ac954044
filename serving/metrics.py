"""Prometheus metrics: one registry per app, filled by a pure ASGI middleware (cheaper than
Starlette's BaseHTTPMiddleware on the hot path).

With ``--workers N`` each worker process keeps its own counters; scrape each or run one
worker per container.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

Scope = dict[str, Any]
ASGIApp = Callable[..., Any]


class ServiceMetrics:
    """The service's metrics, registered in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("sponsorwatch_http_requests", "HTTP requests",
                                ("method", "route", "status"), registry=self.registry)
        self.latency = Histogram(
            "sponsorwatch_http_request_seconds", "Time to answer a request", ("route",),
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=self.registry)
        self.sponsors_revealed = Counter(
            "sponsorwatch_sponsors_revealed", "Sponsor scores revealed in responses",
            ("endpoint",), registry=self.registry)
        self.audit_pending = Gauge("sponsorwatch_audit_pending", "Audit rows not yet written",
                                   registry=self.registry)
        self.audit_written = Gauge("sponsorwatch_audit_written",
                                   "Audit rows written since start", registry=self.registry)
        self.model_info = Gauge("sponsorwatch_model_info", "The served model (value 1)",
                                ("version", "source"), registry=self.registry)
        self.snapshot_sponsors = Gauge("sponsorwatch_snapshot_sponsors",
                                       "Sponsors in the served snapshot", registry=self.registry)
        self.reloads = Counter("sponsorwatch_reloads", "Reloads of model and snapshot",
                               ("result",), registry=self.registry)
        self.monitoring: MonitoringCollector | None = None

    def watch_monitoring(self, folder: Path) -> None:
        """Export the latest health report in ``folder`` (``sponsorwatch monitor``) as
        ``sponsorwatch_monitor_*`` gauges, read at each scrape (once per new report)."""
        if self.monitoring is None:
            self.monitoring = MonitoringCollector(folder)
            self.registry.register(self.monitoring)


class MonitoringCollector(Collector):
    """Gauges of the latest model-health report: its day, status and alert count, per
    feature the PSI against the training window and the null share, the score
    distribution's PSI, the top-k overlap, and the RANDOM-outcome metrics with their
    interval bounds. A report is read again only when a newer file appears."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._seen: tuple[str, float] | None = None
        self._report: dict[str, Any] | None = None

    def latest(self) -> dict[str, Any] | None:
        from training.monitoring.store import read_report, report_dates, report_path

        days = report_dates(self.folder) if self.folder.exists() else []
        if not days:
            return None
        path = report_path(self.folder, days[-1])
        try:
            key = (path.name, path.stat().st_mtime)
            if key != self._seen:
                self._report, self._seen = read_report(self.folder, days[-1]), key
        except (OSError, ValueError):
            return self._report
        return self._report

    def collect(self) -> Iterator[GaugeMetricFamily]:
        report = self.latest()
        if report is None:
            return
        import datetime as dt

        def gauge(name: str, doc: str, value: float | None,
                  labels: dict[str, str] | None = None) -> GaugeMetricFamily:
            family = GaugeMetricFamily(f"sponsorwatch_monitor_{name}", doc,
                                       labels=list(labels or {}))
            if value is not None:
                family.add_metric(list((labels or {}).values()), float(value))
            return family

        day = dt.datetime.combine(dt.date.fromisoformat(report["as_of"]), dt.time(),
                                  dt.UTC).timestamp()
        summary = report["summary"]
        yield gauge("snapshot_timestamp_seconds", "Day of the latest monitored snapshot", day)
        yield gauge("alert", "1 when the latest health report holds an alert, else 0",
                    1.0 if report["status"] == "alert" else 0.0)
        yield gauge("alerts", "Alerts in the latest health report",
                    sum(a["severity"] == "alert" for a in report["alerts"]))
        yield gauge("score_psi", "PSI of the scores against the training window",
                    summary.get("score_psi"))
        yield gauge("top_overlap", "Share of the previous top k still in the top k",
                    summary.get("top_overlap"))
        psi = GaugeMetricFamily("sponsorwatch_monitor_feature_psi",
                                "PSI of a feature against the training window",
                                labels=["feature"])
        nulls = GaugeMetricFamily("sponsorwatch_monitor_feature_null_share",
                                  "Share of sponsors whose feature is missing",
                                  labels=["feature"])
        for row in report["features"]:
            if row.get("psi") is not None:
                psi.add_metric([row["feature"]], float(row["psi"]))
            if row.get("null_share") is not None:
                nulls.add_metric([row["feature"]], float(row["null_share"]))
        yield psi
        yield nulls
        random = GaugeMetricFamily("sponsorwatch_monitor_random_metric",
                                   "A metric on RANDOM inspections with its 95 % bounds",
                                   labels=["metric", "bound"])
        for name, entry in report["outcomes"]["metrics"].items():
            if entry.get("measurable"):
                for bound, key in (("estimate", "estimate"), ("lo", "lo"), ("hi", "hi")):
                    random.add_metric([name, bound], float(entry[key]))
        yield random


class MetricsMiddleware:
    """Counts requests and times them per route template (not per raw path, which would
    make one series per sponsor)."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [500]

        async def send_status(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(scope["method"], template, str(status[0])).inc()
            self.metrics.latency.labels(template).observe(time.perf_counter() - start)
