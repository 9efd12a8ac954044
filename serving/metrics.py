"""Prometheus metrics: one registry per app, filled by a pure ASGI middleware (cheaper than
Starlette's BaseHTTPMiddleware on the hot path).

With ``--workers N`` each worker process keeps its own counters; scrape each or run one
worker per container.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

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
