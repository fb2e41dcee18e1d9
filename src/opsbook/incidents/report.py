"""Incident figures over a period: MTTD, MTTA and MTTR by severity and by service, SLA breaches, pages per
person, for `opsbook report incidents --since 30d` and for Prometheus (incidents/metrics.py).

MTTA is the mean of (acknowledged − opened) over the incidents acknowledged (one resolved without an
acknowledgement is counted as `never_acknowledged` and left out of MTTA, never counted with its time to
resolve); MTTR the mean of (resolved − opened) over those resolved; MTTD the mean of (opened − first sign
of trouble) over those with one (an alert's check's first failed result: detection.py). An incident
counts in the period it opened in. Pages per person count the escalation steps sent in the period that
paged the person.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from statistics import fmean
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

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
    never_acknowledged: int = 0
    mttd_s: float | None = None
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
    detections = [(r.opened_at - r.detected_at).total_seconds() for r in items if r.detected_at]
    return Stats(
        key=key, count=len(items), acknowledged=len(acks), resolved=len(fixes),
        open=sum(1 for r in items if r.status != RESOLVED),
        breaches=sum(1 for r in items if r.sla_breached_at is not None),
        never_acknowledged=sum(1 for r in items if r.resolved_at and not r.acknowledged_at),
        mttd_s=fmean(detections) if detections else None, mtta_s=fmean(acks) if acks else None,
        mttr_s=fmean(fixes) if fixes else None,
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
