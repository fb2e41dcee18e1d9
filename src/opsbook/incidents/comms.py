"""The incident update message, pure: what is posted to the update channels on every status change.

It follows the runbooks' incident communication: service and short description, status, severity,
impact, ETA, then the timestamped updates, newest first:

    [P1] Incident #7 api: API health check failing — Investigating

    api: API health check failing
    Status:   Investigating
    Severity: P1
    Impact:   Logins fail for every customer
    ETA:      30 minutes
    Customer-facing: yes

    Updates:
    - 14:12 UTC  Investigating: the database pool is exhausted (ben)
    - 14:03 UTC  Acknowledged by ben
    - 14:00 UTC  Incident opened: API health check failing
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

UPDATE_KINDS = frozenset(
    {"opened", "acknowledged", "status", "severity", "resolved", "alert_joined", "alert_resolved",
     "all_alerts_resolved", "sla_breach", "note"}
)
"""Timeline kinds that are shown as updates (pages and escalation steps are not)."""
MAX_UPDATES = 10


@dataclass(frozen=True)
class IncidentFacts:
    """The parts of an incident the message shows."""

    id: int
    title: str
    service: str | None
    services: Sequence[str]
    status: str
    severity: str
    impact: str
    eta: str
    customer_facing: bool


@dataclass(frozen=True)
class Update:
    ts: datetime
    text: str


def _time(t: datetime, zone: ZoneInfo, day: bool) -> str:
    local = t.astimezone(zone)
    return local.strftime("%Y-%m-%d %H:%M %Z" if day else "%H:%M %Z")


def render_update(
    incident: IncidentFacts, updates: Sequence[Update], timezone: str = "UTC"
) -> tuple[str, str]:
    """(subject, body) of the update message; `updates` in any order, shown newest first."""
    zone = ZoneInfo(timezone)
    status = incident.status.capitalize()
    where = incident.service or ", ".join(incident.services) or "(no service)"
    subject = f"[{incident.severity}] Incident #{incident.id} {where}: {incident.title} — {status}"
    others = [s for s in incident.services if s != incident.service]
    lines = [
        f"{where}: {incident.title}",
        *([f"Also affects: {', '.join(others)}"] if others else []),
        f"Status:   {status}",
        f"Severity: {incident.severity}",
        f"Impact:   {incident.impact or 'being assessed'}",
        f"ETA:      {incident.eta or 'unknown'}",
        f"Customer-facing: {'yes' if incident.customer_facing else 'no'}",
    ]
    shown = sorted(updates, key=lambda u: u.ts, reverse=True)[:MAX_UPDATES]
    if shown:
        days = {u.ts.astimezone(zone).date() for u in shown}
        lines += ["", "Updates:"]
        lines += [f"- {_time(u.ts, zone, len(days) > 1)}  {u.text}" for u in shown]
    return subject, "\n".join(lines)
