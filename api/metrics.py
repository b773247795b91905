"""Prometheus metrics of one app instance (its own registry, so two apps in one process never clash).

* ``shopfloor_http_requests_total{method,route,status}`` and
  ``shopfloor_http_request_duration_seconds{route}`` - route is the path
  *template* (``/api/v1/teams/{team_id}``), never the raw path, so a scanner
  cannot blow up the label cardinality;
* ``shopfloor_live_clients`` - connected live-channel clients;
* ``shopfloor_store_lag_seconds{equipment}`` - age of the newest value the
  store *accepted* per equipment (how far behind collection is: a device or
  collector problem), computed at scrape time. Accepted is not committed: it
  stays low while a full disk keeps anything from being committed;
* ``shopfloor_store_commit_lag_seconds`` - how long the oldest accepted sample
  not yet committed (DuckDB) or on disk (InfluxDB spool) has waited; 0 when
  everything is. It grows while the store cannot write: alert on it;
* ``shopfloor_store_unsaved_samples`` - how many samples wait so;
* ``shopfloor_store_writable`` - 1, or 0 while the store cannot keep what it
  is given (a full disk; the log and the API's 503 say why);
* ``shopfloor_store_dropped_samples_total`` - samples the store could not keep
  at all: the memory bound was reached (DuckDB), or the spool's disk was full
  (InfluxDB);
* ``shopfloor_kpi_computations_total`` - how often the KPI core really ran;
* with collectors in the process (``shopfloor run``/``demo``):
  ``shopfloor_collector_connected{source}`` (1 while the link is up),
  ``shopfloor_collector_events_total{source,kind}`` (polls, skipped ticks,
  reconnects, … as each collector counts them) and
  ``shopfloor_samples_stored_total{measurement}`` (samples the store accepted);
* andon alerts: ``shopfloor_alerts_active{rule,severity}`` (every rule of the
  plant, 0 when none is active), ``shopfloor_alerts_raised_total{rule,severity}``
  and, with a webhook, ``shopfloor_alert_webhook_queued`` (events waiting for
  the receiver), ``shopfloor_alert_webhook_delivered_total`` and
  ``shopfloor_alert_webhook_dropped_total``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from shopfloor.api.alerts import AlertService
from shopfloor.collectors.base import CollectorStatus
from shopfloor.models.timebase import NS_PER_S
from shopfloor.store.base import StoreHealth


class _StoreLag(Collector):
    def __init__(self, newest_ns: Callable[[], dict[str, int]], clock_ns: Callable[[], int]) -> None:
        self._newest_ns = newest_ns
        self._clock_ns = clock_ns

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(
            "shopfloor_store_lag_seconds",
            "Age of the newest value the store accepted per equipment (committed or not: see commit lag)",
            labels=["equipment"],
        )
        now = self._clock_ns()
        for equipment, ts in sorted(self._newest_ns().items()):
            family.add_metric([equipment], max(0.0, (now - ts) / NS_PER_S))
        yield family


class _Collection(Collector):
    """Read at scrape time from what the collectors last reported (they run in a process of their own)."""

    def __init__(
        self, collectors: Callable[[], Sequence[CollectorStatus]], stored: Callable[[], dict[str, int]]
    ) -> None:
        self._collectors = collectors
        self._stored = stored

    def collect(self) -> Iterable[Metric]:
        connected = GaugeMetricFamily(
            "shopfloor_collector_connected", "1 while the collector's link to its device is up", labels=["source"]
        )
        events = CounterMetricFamily(
            "shopfloor_collector_events", "What each collector counted since start", labels=["source", "kind"]
        )
        for c in self._collectors():
            connected.add_metric([c.source], 1.0 if c.is_connected else 0.0)
            for kind, n in sorted(c.counts().items()):
                events.add_metric([c.source, kind], n)
        stored = CounterMetricFamily(
            "shopfloor_samples_stored", "Samples the store accepted since start", labels=["measurement"]
        )
        for measurement, n in sorted(self._stored().items()):
            stored.add_metric([measurement], n)
        yield from (connected, events, stored)


class _StoreHealth(Collector):
    """Whether what is collected is being kept, read from the store's memory at scrape time."""

    def __init__(self, health: Callable[[], StoreHealth]) -> None:
        self._health = health

    def collect(self) -> Iterable[Metric]:
        h = self._health()
        yield GaugeMetricFamily(
            "shopfloor_store_commit_lag_seconds",
            "How long the oldest accepted sample not yet committed (or on disk) has waited; 0 when all are",
            value=h.unsaved_age_s,
        )
        yield GaugeMetricFamily(
            "shopfloor_store_unsaved_samples",
            "Accepted samples not yet committed (or on disk)",
            value=h.unsaved_samples,
        )
        yield GaugeMetricFamily(
            "shopfloor_store_writable",
            "1 while the store keeps what it is given, 0 while it cannot (disk full: see the log)",
            value=0.0 if h.problem else 1.0,
        )
        yield CounterMetricFamily(
            "shopfloor_store_dropped_samples",
            "Samples the store could not keep: memory bound reached while it could not commit, or spool disk full",
            value=h.dropped_samples,
        )


class _Alerts(Collector):
    def __init__(self, alerts: AlertService) -> None:
        self._alerts = alerts

    def collect(self) -> Iterable[Metric]:
        service = self._alerts
        active = GaugeMetricFamily(
            "shopfloor_alerts_active", "Andon alerts active now, per rule", labels=["rule", "severity"]
        )
        raised = CounterMetricFamily(
            "shopfloor_alerts_raised", "Andon alerts raised since start, per rule", labels=["rule", "severity"]
        )
        now = [(a.rule, a.severity.value) for a in service.active]
        for rule in service.plant.alerts.rules:
            key = (rule.id, rule.severity.value)
            active.add_metric(list(key), now.count(key))
            raised.add_metric(list(key), service.raised_total[key])
        yield from (active, raised)
        hook = service.webhook
        if hook is not None:
            yield GaugeMetricFamily(
                "shopfloor_alert_webhook_queued", "Alert events waiting for the webhook receiver", value=hook.queued
            )
            yield CounterMetricFamily(
                "shopfloor_alert_webhook_delivered", "Alert events the receiver accepted", value=hook.delivered
            )
            yield CounterMetricFamily(
                "shopfloor_alert_webhook_dropped",
                "Alert events dropped: refused by the receiver (4xx) or pushed out of a full queue",
                value=hook.dropped,
            )


class ApiMetrics:
    def __init__(
        self,
        live_clients: Callable[[], int],
        newest_ns: Callable[[], dict[str, int]],
        kpi_computations: Callable[[], int],
        clock_ns: Callable[[], int] = time.time_ns,
        spool_backlog_bytes: Callable[[], int] | None = None,
        collectors: Callable[[], Sequence[CollectorStatus]] | None = None,
        samples_stored: Callable[[], dict[str, int]] | None = None,
        store_health: Callable[[], StoreHealth] | None = None,
        alerts: AlertService | None = None,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "shopfloor_http_requests_total", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "shopfloor_http_request_duration_seconds",
            "HTTP request latency",
            ["route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
        Gauge("shopfloor_live_clients", "Connected live-channel clients", registry=self.registry).set_function(
            live_clients
        )
        Gauge("shopfloor_kpi_computations_total", "KPI core runs (cache misses)", registry=self.registry).set_function(
            kpi_computations
        )
        self.registry.register(_StoreLag(newest_ns, clock_ns))
        if store_health is not None:
            self.registry.register(_StoreHealth(store_health))
        if spool_backlog_bytes is not None:  # InfluxDB: what waits on disk for the server (0 when it keeps up)
            Gauge(
                "shopfloor_spool_backlog_bytes",
                "InfluxDB spool: bytes written to disk, not yet accepted by the server",
                registry=self.registry,
            ).set_function(spool_backlog_bytes)
        if collectors is not None:
            self.registry.register(_Collection(collectors, samples_stored or dict))
        if alerts is not None:
            self.registry.register(_Alerts(alerts))


class MetricsMiddleware:
    """Pure ASGI (no per-request task switch), HTTP only; WebSockets pass through untouched."""

    def __init__(self, app: Any, metrics: Callable[[], ApiMetrics | None]) -> None:
        self.app = app
        self._metrics = metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        metrics = self._metrics()
        if scope["type"] != "http" or metrics is None:
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status_code = [500]

        async def send_wrapper(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status_code[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or (
                "/static" if scope["path"].startswith("/static/") else "unmatched"
            )
            metrics.requests.labels(scope["method"], template, str(status_code[0])).inc()
            metrics.latency.labels(template).observe(time.perf_counter() - start)
