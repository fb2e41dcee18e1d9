"""opsbook's own Prometheus metrics, in a registry per process (served at /metrics)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from opsbook.checks.result import StoredResult

LAG_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
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

    def observe_result(self, stored: StoredResult) -> None:
        service, _, check = stored.check_id.partition("/")
        self.check_up.labels(service, check).set(1 if stored.result.ok else 0)
        if stored.result.latency_ms is not None:
            self.check_latency.labels(service, check).set(stored.result.latency_ms / 1000)
        self.check_last_run.labels(service, check).set(stored.ts.timestamp())

    def render(self) -> bytes:
        return generate_latest(self.registry)
