"""Tables of the incidents domain: incidents, the alerts that joined them, their append-only timeline,
the escalation steps sent, and the ack links already used.

An incident keeps the snapshot of its escalation policy (`policy`) taken when it opened, so a config edit
never changes an escalation in flight. `incident_escalation_steps` has one row per step sent, unique per
(incident, step key): the escalation engine sends exactly the due steps that have no row yet, so a restart
resumes where it stopped and two engines never send one step twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column

from opsbook.db.base import Base
from opsbook.db.types import BigId, Json

TRIGGERED = "triggered"
ACKNOWLEDGED = "acknowledged"
INVESTIGATING = "investigating"
IDENTIFIED = "identified"
MONITORING = "monitoring"
RESOLVED = "resolved"
STATUSES = (TRIGGERED, ACKNOWLEDGED, INVESTIGATING, IDENTIFIED, MONITORING, RESOLVED)


class IncidentRow(Base):
    __tablename__ = "incidents"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(4))
    status: Mapped[str] = mapped_column(String(16), index=True)
    service: Mapped[str | None] = mapped_column(String(64), index=True)  # the first / main service
    services: Mapped[list[str]] = mapped_column(Json, default=list)
    summary: Mapped[str] = mapped_column(Text, default="")
    impact: Mapped[str] = mapped_column(Text, default="")
    eta: Mapped[str] = mapped_column(String(200), default="")
    customer_facing: Mapped[bool] = mapped_column(Boolean, default=False)  # published on the status page
    public_title: Mapped[str | None] = mapped_column(String(500))  # the status page's title; None: `title`
    commander: Mapped[str | None] = mapped_column(String(100))
    responders: Mapped[list[str]] = mapped_column(Json, default=list)
    source: Mapped[str] = mapped_column(String(20), default="manual")  # manual | rule | pagerduty | ...
    opened_by: Mapped[str] = mapped_column(String(100), default="")
    policy_name: Mapped[str | None] = mapped_column(String(64))
    policy: Mapped[dict[str, Any] | None] = mapped_column(Json)  # snapshot of the escalation policy
    detected_at: Mapped[datetime | None]  # first sign of trouble (the alert's pending start)
    opened_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(100))
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(100))
    ack_deadline: Mapped[datetime | None]
    sla_breached_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class IncidentAlertRow(Base):
    """An alert that opened or joined an incident (alert fields copied: alerts may be pruned)."""

    __tablename__ = "incident_alerts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(BigId, ForeignKey("incidents.id", ondelete="CASCADE"))
    alert_id: Mapped[int] = mapped_column(BigId, index=True)
    dedup_key: Mapped[str] = mapped_column(String(300), default="")
    service: Mapped[str] = mapped_column(String(64), default="")
    check_id: Mapped[str | None] = mapped_column(String(140))
    rule: Mapped[str | None] = mapped_column(String(100))
    severity: Mapped[str] = mapped_column(String(4))
    summary: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(20), default="rule")
    pending_since: Mapped[datetime | None]
    fired_at: Mapped[datetime | None]
    joined_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]

    __table_args__ = (UniqueConstraint("incident_id", "alert_id", name="uq_incident_alerts_incident_alert"),)


class TimelineRow(Base):
    """One thing that happened to an incident. Rows are only ever added (never updated or deleted)."""

    __tablename__ = "incident_timeline"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(BigId, ForeignKey("incidents.id", ondelete="CASCADE"))
    ts: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(30))
    actor: Mapped[str] = mapped_column(String(100), default="")
    message: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)

    __table_args__ = (Index("ix_incident_timeline_incident_ts", "incident_id", "ts"),)


class EscalationStepRow(Base):
    """A step of an incident's escalation that was sent: who was paged, when it was due, when sent."""

    __tablename__ = "incident_escalation_steps"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(BigId, ForeignKey("incidents.id", ondelete="CASCADE"))
    step_key: Mapped[str] = mapped_column(String(40))  # "r0-l1", "renotify-2", "sla"
    kind: Mapped[str] = mapped_column(String(12))  # level | renotify | sla
    level: Mapped[int] = mapped_column(Integer, default=0)
    round: Mapped[int] = mapped_column(Integer, default=0)
    targets: Mapped[list[str]] = mapped_column(Json, default=list)  # as the policy names them
    users: Mapped[list[str]] = mapped_column(Json, default=list)  # who was paged
    due_at: Mapped[datetime]
    sent_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("incident_id", "step_key", name="uq_incident_escalation_steps_key"),)


class PublicUpdateRow(Base):
    """An update written for customers, shown on the status page while its incident is published.

    `number` counts an incident's public updates from 1; a responder may correct the text later
    (`edited_at`, `edited_by`), the timeline keeping what was changed."""

    __tablename__ = "incident_public_updates"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(BigId, ForeignKey("incidents.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    ts: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))  # investigating | identified | monitoring | resolved
    text: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(100), default="")
    edited_at: Mapped[datetime | None]
    edited_by: Mapped[str | None] = mapped_column(String(100))

    __table_args__ = (UniqueConstraint("incident_id", "number", name="uq_incident_public_updates_number"),)


class AckTokenRow(Base):
    """An ack link that was used (single use): its nonce, for which incident, when and from where."""

    __tablename__ = "incident_ack_tokens"
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    user: Mapped[str | None] = mapped_column(String(100))
    used_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(100), default="")


class AppendOnly(RuntimeError):
    """Someone tried to change or delete a timeline entry."""


@event.listens_for(TimelineRow, "before_update")
def _no_update(_mapper: Any, _conn: Any, target: TimelineRow) -> None:
    raise AppendOnly(f"timeline entry {target.id} cannot be changed: the timeline is append-only")


@event.listens_for(TimelineRow, "before_delete")
def _no_delete(_mapper: Any, _conn: Any, target: TimelineRow) -> None:
    raise AppendOnly(f"timeline entry {target.id} cannot be deleted: the timeline is append-only")
