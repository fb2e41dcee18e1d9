"""opsbook's own Prometheus metrics, in a registry per process (served at /metrics)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from opsbook.checks.result import StoredResult
from opsbook.checks.writer import ResultWriter
from opsbook.clock import Clock
from opsbook.loops import Supervisor

LAG_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.database = DatabaseUp()
        self.registry.register(self.database)
        labels = ["service", "check"]
        self.check_up = Gauge(
            "opsbook_check_up", "1 if the check's last result was not down", labels, registry=self.registry
        )
        self.check_latency = Gauge(
            "opsbook_check_latency_seconds", "Latency of the check's last run", labels, registry=self.registry
        )
        self.check_last_run = Gauge(
            "opsbook_check_last_run_timestamp_seconds",
            "When the check last ran",
            labels,
            registry=self.registry,
        )
        self.scheduler_lag = Histogram(
            "opsbook_scheduler_lag_seconds",
            "Due time to start time of check runs",
            buckets=LAG_BUCKETS,
            registry=self.registry,
        )
        self.results_written = Counter(
            "opsbook_results_written_total", "Check results written to the store", registry=self.registry
        )
        self.results_dropped = Counter(
            "opsbook_results_dropped_total",
            "Check results dropped: the buffer was full while the store was away, or the store refused them",
            registry=self.registry,
        )
        self.hook_failures = Counter(
            "opsbook_alert_hook_failures_total",
            "Checks whose alert evaluation raised for a batch (their results were stored)",
            registry=self.registry,
        )

    def observe_result(self, stored: StoredResult) -> None:
        service, _, check = stored.check_id.partition("/")
        self.check_up.labels(service, check).set(1 if stored.result.ok else 0)
        if stored.result.latency_ms is not None:
            self.check_latency.labels(service, check).set(stored.result.latency_ms / 1000)
        self.check_last_run.labels(service, check).set(stored.ts.timestamp())

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def register_store(self, collector: Collector) -> None:
        """Register a collector that reads the store: while the store is away it yields nothing, and
        `opsbook_database_up` says 0, so /metrics still answers."""
        self.database.watch(collector)


class DatabaseUp(Collector):
    """`opsbook_database_up` and the store-reading collectors behind it, each guarded."""

    def __init__(self) -> None:
        self.collectors: list[Collector] = []

    def watch(self, collector: Collector) -> None:
        self.collectors.append(collector)

    def collect(self) -> Iterator[Metric]:
        up = 1
        for collector in self.collectors:
            try:
                yield from list(collector.collect())
            except Exception:
                up = 0
        yield GaugeMetricFamily("opsbook_database_up", "1 if the last scrape could read the store", value=up)


class StoreCollector(Collector):
    """Counts read from the store at scrape time: alerts by state and severity, outbox rows by status."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from opsbook.alerts.models import AlertRow
        from opsbook.notify.service import outbox_counts

        alerts = GaugeMetricFamily(
            "opsbook_alerts", "Alerts by state and severity", labels=["state", "severity"]
        )
        outbox = GaugeMetricFamily("opsbook_notifications", "Outbox rows by status", labels=["status"])
        with self.sessions() as session:
            open_states = AlertRow.state.in_(["pending", "firing"])
            query = select(AlertRow.state, AlertRow.severity, func.count()).where(open_states)
            for state, severity, count in session.execute(query.group_by(AlertRow.state, AlertRow.severity)):
                alerts.add_metric([state, severity], count)
            for status, count in outbox_counts(session).items():
                outbox.add_metric([status], count)
        yield alerts
        yield outbox


class PipelineCollector(Collector):
    """The pipeline's own health at scrape time: each loop up or down and its restarts, and how far the
    result writer is behind (age of the oldest result not yet stored: a writer stall shows here)."""

    def __init__(self, supervisor: Supervisor, writer: ResultWriter, clock: Clock) -> None:
        self.supervisor = supervisor
        self.writer = writer
        self.clock = clock

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        up = GaugeMetricFamily("opsbook_loop_up", "1 while the loop's rounds succeed", labels=["loop"])
        restarts = CounterMetricFamily(
            "opsbook_loop_restarts", "Rounds of the loop that failed and were retried", labels=["loop"]
        )
        for name, health in sorted(self.supervisor.loops.items()):
            up.add_metric([name], 1 if health.up else 0)
            restarts.add_metric([name], health.restarts)
        yield up
        yield restarts
        oldest = self.writer.oldest_pending()
        age = (self.clock.now() - oldest).total_seconds() if oldest is not None else 0.0
        yield GaugeMetricFamily(
            "opsbook_writer_oldest_pending_seconds", "Age of the oldest result not yet stored", value=age
        )
        yield GaugeMetricFamily("opsbook_writer_pending", "Results waiting to be stored",
                                value=self.writer.pending)
