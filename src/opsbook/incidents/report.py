"""Incident figures over a period: MTTA and MTTR by severity and by service, SLA breaches, pages per
person, for `opsbook report incidents --since 30d` and for Prometheus.

MTTA is the mean of (acknowledged − opened) over the incidents acknowledged; MTTR the mean of
(resolved − opened) over those resolved. An incident counts in the period it opened in. Pages per person
count the escalation steps sent in the period that paged the person.

For /metrics: `register_metrics(registry, sessions, clock)` adds a collector to a prometheus
CollectorRegistry that computes the gauges from the database at each scrape (over `window`, 30 days
by default): `opsbook_incidents_open{severity}`, `opsbook_incidents{severity,service}`,
`opsbook_incident_mtta_seconds{severity,service}`, `opsbook_incident_mttr_seconds{severity,service}`,
`opsbook_incident_sla_breaches{severity}`, `opsbook_incident_pages{user}`.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from statistics import fmean
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from opsbook.clock import Clock
from opsbook.incidents.models import RESOLVED, EscalationStepRow, IncidentRow

log = logging.getLogger(__name__)


@dataclass
class Stats:
    """Figures of one group of incidents (one severity, one service, or all)."""

    key: str
    count: int = 0
    acknowledged: int = 0
    resolved: int = 0
    open: int = 0
    breaches: int = 0
    mtta_s: float | None = None
    mttr_s: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Report:
    since: datetime
    until: datetime
    total: Stats
    by_severity: list[Stats]
    by_service: list[Stats]
    by_severity_service: list[tuple[str, str, Stats]]
    breaches: list[dict[str, Any]] = field(default_factory=list)
    pages: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(), "until": self.until.isoformat(), "total": self.total.as_dict(),
            "by_severity": [s.as_dict() for s in self.by_severity],
            "by_service": [s.as_dict() for s in self.by_service],
            "by_severity_service": [{"severity": sev, "service": svc, **s.as_dict()}
                                    for sev, svc, s in self.by_severity_service],
            "sla_breaches": self.breaches, "pages_per_person": self.pages,
        }


def _stats(key: str, rows: Iterable[IncidentRow]) -> Stats:
    items = list(rows)
    acks = [(r.acknowledged_at - r.opened_at).total_seconds() for r in items if r.acknowledged_at]
    fixes = [(r.resolved_at - r.opened_at).total_seconds() for r in items if r.resolved_at]
    return Stats(
        key=key, count=len(items), acknowledged=len(acks), resolved=len(fixes),
        open=sum(1 for r in items if r.status != RESOLVED),
        breaches=sum(1 for r in items if r.sla_breached_at is not None),
        mtta_s=fmean(acks) if acks else None, mttr_s=fmean(fixes) if fixes else None,
    )


def incident_report(session: Session, since: datetime, until: datetime) -> Report:
    """Figures of the incidents opened in [since, until)."""
    rows = list(session.scalars(
        select(IncidentRow).where(IncidentRow.opened_at >= since, IncidentRow.opened_at < until)
        .order_by(IncidentRow.id)
    ))
    by_sev: dict[str, list[IncidentRow]] = defaultdict(list)
    by_svc: dict[str, list[IncidentRow]] = defaultdict(list)
    by_both: dict[tuple[str, str], list[IncidentRow]] = defaultdict(list)
    for row in rows:
        service = row.service or "-"
        by_sev[row.severity].append(row)
        by_svc[service].append(row)
        by_both[(row.severity, service)].append(row)
    pages: dict[str, int] = defaultdict(int)
    for users in session.scalars(
        select(EscalationStepRow.users).where(EscalationStepRow.sent_at >= since,
                                              EscalationStepRow.sent_at < until)
    ):
        for user in users or []:
            pages[user] += 1
    breaches = [
        {"id": r.id, "title": r.title, "severity": r.severity, "service": r.service,
         "deadline": r.ack_deadline.isoformat() if r.ack_deadline else None,
         "acknowledged_at": r.acknowledged_at.isoformat() if r.acknowledged_at else None}
        for r in rows if r.sla_breached_at is not None
    ]
    return Report(
        since=since, until=until, total=_stats("all", rows),
        by_severity=[_stats(k, v) for k, v in sorted(by_sev.items())],
        by_service=[_stats(k, v) for k, v in sorted(by_svc.items())],
        by_severity_service=[
            (sev, svc, _stats(f"{sev}/{svc}", v)) for (sev, svc), v in sorted(by_both.items())
        ],
        breaches=breaches, pages=dict(sorted(pages.items(), key=lambda kv: (-kv[1], kv[0]))),
    )


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
        try:
            with self.sessions() as session:
                report = incident_report(session, now - self.window, now)
                open_counts = {str(sev): int(n) for sev, n in session.execute(
                    select(IncidentRow.severity, func.count()).where(IncidentRow.status != RESOLVED)
                    .group_by(IncidentRow.severity)
                )}
        except Exception:
            log.exception("cannot compute the incident metrics")
            return
        days = f"{self.window.total_seconds() / 86400:g}d"
        opened = GaugeMetricFamily("opsbook_incidents_open", "Incidents not resolved", labels=["severity"])
        for sev in ("P0", "P1", "P2", "P3", "P4"):
            opened.add_metric([sev], float(open_counts.get(sev, 0)))
        yield opened
        count = GaugeMetricFamily("opsbook_incidents", f"Incidents opened in the last {days}",
                                  labels=["severity", "service"])
        pair = ["severity", "service"]
        mtta = GaugeMetricFamily("opsbook_incident_mtta_seconds",
                                 f"Mean time to acknowledge over the last {days}", labels=pair)
        mttr = GaugeMetricFamily("opsbook_incident_mttr_seconds",
                                 f"Mean time to resolve over the last {days}", labels=pair)
        for sev, svc, stats in report.by_severity_service:
            count.add_metric([sev, svc], float(stats.count))
            if stats.mtta_s is not None:
                mtta.add_metric([sev, svc], stats.mtta_s)
            if stats.mttr_s is not None:
                mttr.add_metric([sev, svc], stats.mttr_s)
        yield count
        yield mtta
        yield mttr
        breaches = GaugeMetricFamily("opsbook_incident_sla_breaches",
                                     f"Incidents that missed their acknowledgement SLA in the last {days}",
                                     labels=["severity"])
        for stats in report.by_severity:
            breaches.add_metric([stats.key], float(stats.breaches))
        yield breaches
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
