"""Incident logic on both databases: SLA breach, grouping, alert resolves, statuses, timeline, ingest."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from tests.incidents.conftest import Receiver, Team, fire_p1, make_team

from opsbook.alerts.external import ExternalEvent, apply_external
from opsbook.alerts.state import ExternalAction
from opsbook.alerts.types import AlertTransition
from opsbook.auth.models import AuditRow
from opsbook.auth.roles import Principal, Role
from opsbook.errors import Conflict, Invalid
from opsbook.incidents import queries, report, service
from opsbook.incidents.linking import alert_hook
from opsbook.incidents.models import AppendOnly, IncidentRow, TimelineRow
from opsbook.notify.models import CANCELLED, OutboxRow
from opsbook.oplog.service import add_entry
from opsbook.rules.severity import Severity

BEN = Principal("ben", Role.RESPONDER, "cli")


def kinds(team: Team, incident_id: int = 1) -> list[str]:
    with team.runtime.sessions() as s:
        return [i.kind for i in queries.timeline(s, incident_id)]


def incident(team: Team, incident_id: int = 1) -> IncidentRow:
    with team.runtime.sessions() as s:
        return queries.get_incident(s, incident_id)


def pagerduty(s: Session, key: str, service: str, severity: Severity, summary: str, now: datetime,
              action: ExternalAction = ExternalAction.TRIGGER) -> list[AlertTransition]:
    return apply_external(s, ExternalEvent("pagerduty", key, action, service, severity, summary), now)


def open_by_hand(team: Team, severity: str = "P0") -> int:
    return service.open_incident(team.runtime, BEN, title="Checkout is down", severity=severity,
                                 service="api").id


async def test_p0_not_acked_in_5_minutes_records_a_breach_and_escalates(
    team: Team, receiver: Receiver
) -> None:
    t0 = team.clock.now()
    incident_id = open_by_hand(team, "P0")
    engine = team.engine()
    await team.deliver()
    await team.clock.advance(timedelta(minutes=4, seconds=59))
    assert engine.tick(team.clock.now()).breached == []
    await team.clock.advance(timedelta(seconds=1))
    result = engine.tick(team.clock.now())
    assert result.breached == [incident_id]
    assert result.sent == [(incident_id, "r0-l1")]  # the lead, now instead of at +10 min
    await team.deliver()
    assert receiver.pages() == [("/ana", t0), ("/lead", t0 + timedelta(minutes=5))]
    await team.clock.advance(timedelta(minutes=5))
    assert engine.tick(team.clock.now()).sent == []  # +10: the lead's step is recorded already
    row = incident(team, incident_id)
    assert row.sla_breached_at == t0 + timedelta(minutes=5) and row.ack_deadline == row.sla_breached_at
    with team.runtime.sessions() as s:
        [breach] = [i for i in queries.timeline(s, incident_id) if i.kind == "sla_breach"]
        [_, lead] = [i for i in queries.timeline(s, incident_id) if i.kind == "page"]
    assert breach.ts == t0 + timedelta(minutes=5)
    assert breach.message.startswith("SLA missed: not acknowledged within 5m")
    assert lead.message == "Escalation level 2: paged lead (SLA missed)"
    [missed] = [u for u in receiver.bodies("/updates") if "SLA missed" in u["title"]]
    assert missed["title"] == f"[P0] SLA missed: Incident #{incident_id} api: Checkout is down"
    assert "SLA missed: not acknowledged within 5m" in missed["message"]  # in the updates list
    assert missed["type"] == "warning"


async def test_breach_after_a_late_ack_is_recorded_without_escalating(team: Team, receiver: Receiver) -> None:
    incident_id = open_by_hand(team, "P0")
    await team.clock.advance(timedelta(minutes=7))  # the engine was not running
    service.acknowledge_incident(team.runtime, BEN, incident_id)
    assert kinds(team, incident_id)[-2:] == ["sla_breach", "acknowledged"]
    assert team.engine().tick(team.clock.now()).sent == []
    with team.runtime.sessions() as s:
        assert [st.step_key for st in queries.steps_of(s, incident_id)] == ["r0-l0"]


async def test_alerts_of_one_service_join_within_the_window(team: Team) -> None:
    t0 = await fire_p1(team)
    await team.clock.advance(timedelta(minutes=10))
    with team.runtime.sessions.begin() as s:  # a PagerDuty P0 event for the same service joins and raises
        hook = alert_hook(team.config)
        hook(s, pagerduty(s, "x1", "api", Severity.P0, "checkout 500s", team.clock.now()), team.clock.now())
    row = incident(team)
    assert (row.severity, row.services) == ("P0", ["api"])
    assert row.ack_deadline == t0 + timedelta(minutes=5)  # P0's deadline counts from the opening
    assert kinds(team)[-2:] == ["alert_joined", "severity"]
    await team.clock.advance(timedelta(minutes=21))  # 31 minutes after opening: outside the 30m window
    with team.runtime.sessions.begin() as s:
        hook(s, pagerduty(s, "x2", "api", Severity.P2, "slow search", team.clock.now()), team.clock.now())
    with team.runtime.sessions() as s:
        rows = queries.list_incidents(s)
        assert [(r.id, r.severity, r.source) for r in rows] == [(2, "P2", "pagerduty"), (1, "P0", "rule")]
        assert [a.alert_id for a in queries.alerts_of(s, 1)] == [1, 2]


async def test_p3_alerts_open_nothing_and_silenced_ones_never_open(team: Team) -> None:
    with team.runtime.sessions.begin() as s:
        hook = alert_hook(team.config)
        now = team.clock.now()
        hook(s, pagerduty(s, "p3", "api", Severity.P3, "typo", now), now)
        transitions = pagerduty(s, "p1", "db", Severity.P1, "db down", now)
        hook(s, [replace(t, silenced=True) for t in transitions], now)
    with team.runtime.sessions() as s:
        assert queries.list_incidents(s) == []


async def test_all_alerts_resolved_keeps_the_incident_open_and_says_so(team: Team) -> None:
    await fire_p1(team)
    await team.clock.advance(timedelta(minutes=5))
    resolved = team.result("api/health", latency=50.0)
    assert [t.kind.value for t in resolved] == ["resolved"]
    row = incident(team)
    assert row.status == "triggered" and row.resolved_at is None
    assert kinds(team)[-2:] == ["alert_resolved", "all_alerts_resolved"]
    with team.runtime.sessions() as s:
        [link] = queries.alerts_of(s, 1)
    assert link.resolved_at == team.clock.now()


async def test_auto_resolve_when_configured(engine: object, clock: object, receiver: Receiver) -> None:
    team = make_team(engine, clock, receiver.port, extra="  auto_resolve: true\n")  # type: ignore[arg-type]
    await fire_p1(team)
    await team.clock.advance(timedelta(minutes=5))
    team.result("api/health", latency=50.0)
    row = incident(team)
    assert (row.status, row.resolved_by) == ("resolved", "opsbook")
    assert kinds(team)[-2:] == ["alert_resolved", "resolved"]


async def test_status_flow_notes_severity_and_an_append_only_timeline(team: Team, receiver: Receiver) -> None:
    incident_id = open_by_hand(team, "P1")
    rt = team.runtime
    service.set_incident_status(rt, BEN, incident_id, "investigating", message="pool exhausted",
                                impact="logins fail", eta="30 minutes")
    service.add_incident_note(rt, BEN, incident_id, "restarted api-1")
    service.set_incident_severity(rt, BEN, incident_id, "P0", message="all customers")
    service.set_incident_status(rt, BEN, incident_id, "monitoring")
    with pytest.raises(Invalid, match="cannot go back to triggered"):
        service.set_incident_status(rt, BEN, incident_id, "triggered")
    with pytest.raises(Invalid, match="not a status"):
        service.set_incident_status(rt, BEN, incident_id, "fixed")
    await team.clock.advance(timedelta(minutes=20))
    service.resolve_incident(rt, BEN, incident_id, message="rolled back")
    with pytest.raises(Conflict, match="resolved already"):
        service.acknowledge_incident(rt, BEN, incident_id)
    row = incident(team, incident_id)
    assert (row.status, row.impact, row.eta, row.severity, row.acknowledged_by) == (
        "resolved", "logins fail", "30 minutes", "P0", "ben")
    assert kinds(team, incident_id) == [
        "opened", "page", "acknowledged", "status", "note", "severity", "status", "resolved"]
    with team.runtime.sessions() as s:
        actions = s.scalars(select(AuditRow.action).order_by(AuditRow.id)).all()
        assert actions == ["incident.open", "incident.ack", "incident.status", "incident.note",
                           "incident.severity", "incident.status", "incident.resolve"]
    with team.runtime.sessions.begin() as s:
        entry = s.scalars(select(TimelineRow)).first()
        assert entry is not None
        entry.message = "rewritten"
        with pytest.raises(AppendOnly):
            s.flush()
        s.rollback()
    with team.runtime.sessions.begin() as s, pytest.raises(AppendOnly):
        s.delete(s.scalars(select(TimelineRow)).first())
        s.flush()
    await team.deliver()
    [last] = [b for b in receiver.bodies("/updates") if b["title"].endswith("Resolved")]
    assert last["title"] == f"[P0] Incident #{incident_id} api: Checkout is down — Resolved"
    for line in ("Status:   Resolved", "Severity: P0", "Impact:   logins fail", "ETA:      30 minutes",
                 "Investigating: pool exhausted (impact: logins fail) (ETA: 30 minutes)", "Resolved by ben"):
        assert line in last["message"]


async def test_ack_cancels_pages_not_delivered_yet(team: Team, receiver: Receiver) -> None:
    incident_id = open_by_hand(team, "P1")  # ana's page is in the outbox, not delivered
    service.acknowledge_incident(team.runtime, BEN, incident_id)
    await team.deliver()
    assert receiver.pages() == []
    with team.runtime.sessions() as s:
        status = s.scalar(select(OutboxRow.status).where(OutboxRow.channel == "contact:ana:0"))
    assert status == CANCELLED


async def test_pagerduty_acknowledge_acknowledges_the_incident(team: Team) -> None:
    with team.runtime.sessions.begin() as s:
        hook = alert_hook(team.config)
        now = team.clock.now()
        for action in (ExternalAction.TRIGGER, ExternalAction.ACKNOWLEDGE):
            hook(s, pagerduty(s, "k", "db", Severity.P1, "db down", now, action), now)
    row = incident(team)
    assert (row.status, row.acknowledged_by, row.source) == ("acknowledged", "pagerduty", "pagerduty")


async def test_renotify_while_acknowledged_but_unresolved(engine: object, clock: object,
                                                          receiver: Receiver) -> None:
    team = make_team(engine, clock, receiver.port)  # type: ignore[arg-type]
    text = team.runtime.loaded
    policy = team.config.escalation_policies[0].model_copy(update={"renotify_after": timedelta(hours=1)})
    cfg = team.config.model_copy(update={"escalation_policies": [policy]})
    team.runtime.loaded = replace(text, config=cfg)
    service.open_incident(team.runtime, BEN, title="Slow", severity="P2", service="api")
    await team.clock.advance(timedelta(minutes=2))
    service.acknowledge_incident(team.runtime, Principal("ben", Role.RESPONDER, "cli"), 1)
    engine_ = team.engine()
    await team.clock.advance(timedelta(minutes=61))
    assert engine_.tick(team.clock.now()).sent == [(1, "renotify-1")]
    await team.deliver()
    assert [p for p, _ in receiver.pages()] == ["/ben"]  # the acknowledger, not the whole level
    await team.clock.advance(timedelta(hours=1))
    assert engine_.tick(team.clock.now()).sent == [(1, "renotify-2")]
    service.resolve_incident(team.runtime, BEN, 1)
    await team.clock.advance(timedelta(hours=3))
    assert engine_.tick(team.clock.now()).sent == []


async def test_timeline_includes_operations_log_entries(team: Team) -> None:
    incident_id = open_by_hand(team, "P1")
    await team.clock.advance(timedelta(minutes=3))
    with team.runtime.sessions.begin() as s:
        add_entry(s, now=team.clock.now(), operation="Restart web servers", operator="ben",
                  reason="pool exhausted", incident_id=incident_id, run_id=None, source="manual")
    with team.runtime.sessions() as s:
        items = queries.timeline(s, incident_id)
    assert [(i.kind, i.source) for i in items][-1] == ("operation", "oplog")
    assert items[-1].message == "Restart web servers — pool exhausted"


async def test_report_figures(team: Team) -> None:
    t0 = team.clock.now()
    first = open_by_hand(team, "P1")
    await team.clock.advance(timedelta(minutes=4))
    service.acknowledge_incident(team.runtime, BEN, first)
    await team.clock.advance(timedelta(minutes=16))
    service.resolve_incident(team.runtime, BEN, first)
    second = open_by_hand(team, "P0")
    await team.clock.advance(timedelta(minutes=10))
    team.engine().tick(team.clock.now())  # P0 missed its 5 minutes; the lead was paged
    with team.runtime.sessions() as s:
        found = report.incident_report(s, t0 - timedelta(days=1), team.clock.now() + timedelta(seconds=1))
    assert found.total.count == 2 and found.total.breaches == 1
    by = {g.key: g for g in found.by_severity}
    assert (by["P1"].mtta_s, by["P1"].mttr_s, by["P1"].breaches) == (240.0, 1200.0, 0)
    assert (by["P0"].mtta_s, by["P0"].open, by["P0"].breaches) == (None, 1, 1)
    assert [b["id"] for b in found.breaches] == [second]
    assert found.pages == {"ana": 2, "lead": 1}
