"""The incident use cases on both databases: each writes its audit row and publishes its event once the
change is committed; a refused or failed change leaves nothing behind, no event either. What opsbook
itself does (alerts opening incidents, escalation steps) publishes events too."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from tests.incidents.conftest import Team, fire_p1

from opsbook.auth.models import AuditRow
from opsbook.auth.roles import Principal, Role
from opsbook.errors import Forbidden
from opsbook.events import DomainEvent, Event, Topic
from opsbook.incidents import lifecycle, queries, service
from opsbook.incidents.models import IncidentRow
from opsbook.notify.models import OutboxRow

BEN = Principal("ben", Role.RESPONDER, "api")


def watch(team: Team, topic: Topic = Topic.INCIDENTS) -> list[tuple[str, str, str]]:
    """(action, subject, the incident's status as another session reads it) of each published event."""
    seen: list[tuple[str, str, str]] = []

    def on(event: Event) -> None:
        assert isinstance(event, DomainEvent)
        with team.runtime.sessions() as s:  # published after the commit: the change is there to read
            status = s.scalar(select(IncidentRow.status).where(IncidentRow.id == 1)) or "-"
        seen.append((event.action, event.subject, status))

    team.runtime.bus.subscribe(topic, on)
    return seen


def audit(team: Team) -> list[tuple[str, str, str]]:
    with team.runtime.sessions() as s:
        return [(a.actor, a.action, a.target) for a in s.scalars(select(AuditRow).order_by(AuditRow.id))]


def count(team: Team, table: type) -> int:
    with team.runtime.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(table)) or 0)


async def test_each_change_is_audited_and_announced_after_it_commits(team: Team) -> None:
    seen = watch(team)
    rt = team.runtime
    row = service.open_incident(rt, BEN, title="Checkout down", severity="P1", service="api")
    assert seen == [("paged", "incident:1", "triggered"), ("opened", "incident:1", "triggered")]
    service.acknowledge_incident(rt, BEN, row.id, via="api")
    service.acknowledge_incident(rt, BEN, row.id, via="api")  # again: nothing changes, nothing is said
    service.set_incident_status(rt, BEN, row.id, "identified", message="bad deploy")
    service.add_incident_note(rt, BEN, row.id, "rolling back")
    service.set_incident_severity(rt, BEN, row.id, "P0")
    service.update_incident_details(rt, BEN, row.id, commander="ben", customer_facing=True)
    service.update_incident_details(rt, BEN, row.id, commander="ben")  # no change
    service.resolve_incident(rt, BEN, row.id, message="rolled back")
    assert seen[2:] == [
        ("acknowledged", "incident:1", "acknowledged"), ("status", "incident:1", "identified"),
        ("note", "incident:1", "identified"), ("severity", "incident:1", "identified"),
        ("details", "incident:1", "identified"), ("resolved", "incident:1", "resolved"),
    ]
    assert audit(team) == [("ben", action, "incident:1") for action in (
        "incident.open", "incident.ack", "incident.status", "incident.note", "incident.severity",
        "incident.update", "incident.resolve")]


async def test_a_viewer_is_refused_and_nothing_happens(team: Team) -> None:
    row = service.open_incident(team.runtime, BEN, title="Checkout down", severity="P1", service="api")
    seen = watch(team)
    viewer = Principal("wall", Role.VIEWER, "api")
    with pytest.raises(Forbidden, match="responder role"):
        service.acknowledge_incident(team.runtime, viewer, row.id)
    with pytest.raises(Forbidden):
        service.open_incident(team.runtime, viewer, title="Another", severity="P2")
    assert seen == [] and count(team, IncidentRow) == 1
    with team.runtime.sessions() as s:
        assert queries.get_incident(s, row.id).acknowledged_at is None


async def test_a_change_that_fails_midway_leaves_nothing_and_announces_nothing(
    team: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = watch(team)
    queued = watch(team, Topic.OUTBOX)

    def broken(*_args: object) -> None:
        raise RuntimeError("the update channel template exploded")

    # the first level is paged (an event and an outbox row), then posting the update fails
    monkeypatch.setattr(lifecycle, "post_update", broken)
    with pytest.raises(RuntimeError, match="exploded"):
        service.open_incident(team.runtime, BEN, title="Checkout down", severity="P1", service="api")
    assert seen == [] and queued == []
    assert count(team, IncidentRow) == 0 and count(team, OutboxRow) == 0 and audit(team) == []


async def test_what_opsbook_does_itself_is_announced_too(team: Team) -> None:
    seen = watch(team)
    await fire_p1(team)  # the alert opens the incident and pages ana, in the evaluation's transaction
    assert [action for action, _, _ in seen] == ["paged", "opened"]
    await team.clock.advance(timedelta(minutes=10))
    team.engine().tick(team.clock.now())  # the lead's turn
    assert seen[2:] == [("paged", "incident:1", "triggered")]
    await team.clock.advance(timedelta(minutes=5))
    team.result("api/health", latency=50.0)  # the alert resolves: recorded on the incident
    assert [action for action, _, _ in seen[3:]] == ["alert_resolved", "all_alerts_resolved"]
    assert audit(team) == []  # opsbook's own changes are in the timeline, not the audit log
