"""Incident gauges for /metrics, computed from the database at each scrape over `window` (30 days by
default): `opsbook_incidents_open{severity}`, `opsbook_incidents{severity,service}`,
`opsbook_incident_mttd_seconds{severity,service}` (first failed result → opened),
`opsbook_incident_mtta_seconds{severity,service}`, `opsbook_incident_mttr_seconds{severity,service}`,
`opsbook_incident_sla_breaches{severity}`, `opsbook_incidents_never_acknowledged{severity}` (resolved
without an acknowledgement: left out of MTTA), `opsbook_incident_pages{user}`.

`register_metrics(registry, sessions, clock)` adds the collector to a prometheus CollectorRegistry.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from opsbook.clock import Clock
from opsbook.incidents.models import RESOLVED, IncidentRow
from opsbook.incidents.report import incident_report


class IncidentCollector(Collector):
    """Prometheus collector: incident gauges computed from the database at each scrape."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock, window: timedelta) -> None:
        self.sessions = sessions
        self.clock = clock
        self.window = window

    def describe(self) -> list[Metric]:
        return []  # the families are built at collect time; no description needed up front

    def collect(self) -> Iterator[Metric]:
        now = self.clock.now()
        with self.sessions() as session:  # a store that is away: opsbook_database_up says so
            report = incident_report(session, now - self.window, now)
            open_counts = {str(sev): int(n) for sev, n in session.execute(
                select(IncidentRow.severity, func.count()).where(IncidentRow.status != RESOLVED)
                .group_by(IncidentRow.severity)
            )}
        days = f"{self.window.total_seconds() / 86400:g}d"
        opened = GaugeMetricFamily("opsbook_incidents_open", "Incidents not resolved", labels=["severity"])
        for sev in ("P0", "P1", "P2", "P3", "P4"):
            opened.add_metric([sev], float(open_counts.get(sev, 0)))
        yield opened
        count = GaugeMetricFamily("opsbook_incidents", f"Incidents opened in the last {days}",
                                  labels=["severity", "service"])
        pair = ["severity", "service"]
        mttd = GaugeMetricFamily("opsbook_incident_mttd_seconds",
                                 f"Mean time to detect over the last {days}", labels=pair)
        mtta = GaugeMetricFamily("opsbook_incident_mtta_seconds",
                                 f"Mean time to acknowledge over the last {days}", labels=pair)
        mttr = GaugeMetricFamily("opsbook_incident_mttr_seconds",
                                 f"Mean time to resolve over the last {days}", labels=pair)
        for sev, svc, stats in report.by_severity_service:
            count.add_metric([sev, svc], float(stats.count))
            if stats.mttd_s is not None:
                mttd.add_metric([sev, svc], stats.mttd_s)
            if stats.mtta_s is not None:
                mtta.add_metric([sev, svc], stats.mtta_s)
            if stats.mttr_s is not None:
                mttr.add_metric([sev, svc], stats.mttr_s)
        yield count
        yield mttd
        yield mtta
        yield mttr
        breaches = GaugeMetricFamily("opsbook_incident_sla_breaches",
                                     f"Incidents that missed their acknowledgement SLA in the last {days}",
                                     labels=["severity"])
        never = GaugeMetricFamily("opsbook_incidents_never_acknowledged",
                                  f"Incidents resolved without an acknowledgement in the last {days}",
                                  labels=["severity"])
        for stats in report.by_severity:
            breaches.add_metric([stats.key], float(stats.breaches))
            never.add_metric([stats.key], float(stats.never_acknowledged))
        yield breaches
        yield never
        pages = GaugeMetricFamily("opsbook_incident_pages", f"Escalation pages per person in the last {days}",
                                  labels=["user"])
        for user, n in report.pages.items():
            pages.add_metric([user], float(n))
        yield pages


def register_metrics(
    registry: CollectorRegistry, sessions: sessionmaker[Session], clock: Clock,
    window: timedelta = timedelta(days=30),
) -> IncidentCollector:
    """Add the incident gauges to `registry` (e.g. `Pipeline.metrics.registry`)."""
    collector = IncidentCollector(sessions, clock, window)
    registry.register(collector)
    return collector
