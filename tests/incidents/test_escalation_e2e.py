"""Acceptance: a P1 alert's incident pages on-call at once, the lead at +10 min and the CTO at +30 min,
through the real delivery worker and Apprise to a local webhook receiver, on a fake clock; an ack at
+12 min spares the CTO; a new engine after a restart resumes at the right level at the right time."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, select
from tests.incidents.conftest import Receiver, Team, fire_p1, make_team, team_yaml
from tests.support import make_runtime

from opsbook.auth.roles import Principal, Role
from opsbook.clock import FakeClock
from opsbook.incidents import queries, service
from opsbook.incidents.escalation import EscalationEngine
from opsbook.incidents.models import EscalationStepRow, IncidentRow
from opsbook.notify.models import OutboxRow

BEN = Principal("ben", Role.RESPONDER, "cli")


async def run_until(team: Team, end: datetime, step: timedelta = timedelta(seconds=30)) -> None:
    """Advance the fake clock to `end` in steps, letting the worker deliver what is due after each."""
    while team.clock.now() < end:
        await team.clock.advance(min(step, end - team.clock.now()))
        await team.deliver()


def _incident(team: Team) -> IncidentRow:
    with team.runtime.sessions() as s:
        [row] = s.scalars(select(IncidentRow)).all()
        return row


async def test_p1_pages_oncall_at_once_lead_at_10_and_cto_at_30(team: Team, receiver: Receiver) -> None:
    engine = team.engine()
    task = engine.start()
    try:
        t0 = await fire_p1(team)
        await team.deliver()
        assert receiver.pages() == [("/ana", t0)]  # at once, before any engine tick
        await run_until(team, t0 + timedelta(minutes=60))
    finally:
        await engine.stop()
        assert task.done()
    assert receiver.pages() == [
        ("/ana", t0), ("/lead", t0 + timedelta(minutes=10)), ("/cto", t0 + timedelta(minutes=30)),
    ]
    first = receiver.bodies("/ana")[0]
    assert first["title"].startswith("[P1] Incident #1") and "Escalation" not in first["message"]
    page = receiver.bodies("/cto")[0]
    assert page["title"].startswith("[P1] ESCALATED to level 3: Incident #1")
    assert page["message"].startswith("Escalation, level 3 of 3.\nPaged before, not acknowledged: ana, lead.")
    assert "Acknowledge: http://opsbook.test/ack/" in page["message"]
    row = _incident(team)
    assert (row.status, row.severity, row.service, row.opened_at) == ("triggered", "P1", "api", t0)
    assert row.detected_at == t0 - timedelta(minutes=5)  # the alert went pending 5 minutes earlier
    with team.runtime.sessions() as s:
        steps = [(r.step_key, r.users, r.sent_at - t0) for r in queries.steps_of(s, row.id)]
        kinds = [i.kind for i in queries.timeline(s, row.id)]
    assert steps == [("r0-l0", ["ana"], timedelta(0)), ("r0-l1", ["lead"], timedelta(minutes=10)),
                     ("r0-l2", ["cto"], timedelta(minutes=30))]
    assert kinds[:3] == ["opened", "page", "alert_joined"]
    # the SLA (15 min for P1) was missed: recorded once; the lead was already paged, so no extra page
    assert kinds.count("sla_breach") == 1
    assert row.sla_breached_at == t0 + timedelta(minutes=15)
    updates = [b["title"] for b in receiver.bodies("/updates")]
    assert updates[0] == "[P1] Incident #1 api: API p95 900 ms > 500 ms — Triggered"
    assert len(updates) == 2  # opened, SLA missed


async def test_ack_at_12_minutes_means_the_cto_is_never_paged(team: Team, receiver: Receiver) -> None:
    engine = team.engine()
    task = engine.start()
    try:
        t0 = await fire_p1(team)
        await team.deliver()
        await run_until(team, t0 + timedelta(minutes=12))
        service.acknowledge_incident(team.runtime, BEN, _incident(team).id)
        await run_until(team, t0 + timedelta(hours=3))
    finally:
        await engine.stop()
        assert task.done()
    assert receiver.pages() == [("/ana", t0), ("/lead", t0 + timedelta(minutes=10))]
    row = _incident(team)
    assert (row.status, row.acknowledged_by, row.acknowledged_at) == (
        "acknowledged", "ben", t0 + timedelta(minutes=12))
    assert row.sla_breached_at is None  # acknowledged within 15 minutes


async def test_restart_resumes_at_the_right_level_and_never_resends(
    engine: Engine, clock: FakeClock, receiver: Receiver
) -> None:
    first = make_team(engine, clock, receiver.port)
    engine1 = first.engine()
    task = engine1.start()
    t0 = await fire_p1(first)
    await first.deliver()
    await run_until(first, t0 + timedelta(minutes=11))
    await engine1.stop()  # the process dies here; only the database is left
    assert task.done()
    assert receiver.pages() == [("/ana", t0), ("/lead", t0 + timedelta(minutes=10))]

    second = make_team(engine, clock, receiver.port)  # a new runtime, worker and engine on the same DB
    engine2: EscalationEngine = second.engine()
    assert engine2.tick(clock.now()).sent == []  # +0 and +10 are recorded as sent
    task2 = engine2.start()
    try:
        await run_until(second, t0 + timedelta(minutes=29), step=timedelta(minutes=1))
        assert receiver.pages() == [("/ana", t0), ("/lead", t0 + timedelta(minutes=10))]
        await run_until(second, t0 + timedelta(minutes=90))
    finally:
        await engine2.stop()
        assert task2.done()
    assert receiver.pages() == [
        ("/ana", t0), ("/lead", t0 + timedelta(minutes=10)), ("/cto", t0 + timedelta(minutes=30)),
    ]
    with second.runtime.sessions() as s:
        keys = s.scalars(select(EscalationStepRow.step_key).order_by(EscalationStepRow.id)).all()
        pages = s.execute(select(OutboxRow.channel, OutboxRow.created_at, OutboxRow.status)
                          .where(OutboxRow.channel.like("contact:%")).order_by(OutboxRow.id)).all()
    assert keys == ["r0-l0", "r0-l1", "r0-l2"]
    assert [tuple(p) for p in pages] == [
        ("contact:ana:0", t0, "sent"), ("contact:lead:0", t0 + timedelta(minutes=10), "sent"),
        ("contact:cto:0", t0 + timedelta(minutes=30), "sent"),
    ]


async def test_steps_missed_while_down_are_sent_at_once_after_restart(team: Team, receiver: Receiver) -> None:
    t0 = await fire_p1(team)
    await team.deliver()
    await team.clock.advance(timedelta(minutes=45))  # nothing ran from +0 to +45 min
    result = team.engine().tick(team.clock.now())
    assert result.sent == [(1, "r0-l1"), (1, "r0-l2")]
    assert result.next_at is None
    await team.deliver()
    late = t0 + timedelta(minutes=45)
    assert sorted(receiver.pages()) == [("/ana", t0), ("/cto", late), ("/lead", late)]
    assert team.engine().tick(team.clock.now()).sent == []


async def test_the_snapshotted_policy_wins_over_a_config_edit(
    engine: Engine, clock: FakeClock, receiver: Receiver
) -> None:
    team = make_team(engine, clock, receiver.port)
    t0 = await fire_p1(team)
    # the config now pages the CTO at +10 min instead of the lead: the open incident keeps its policy
    edited = team_yaml(receiver.port).replace('targets: ["user:lead"]', 'targets: ["user:cto"]')
    runtime = make_runtime(engine, clock, edited)
    assert runtime.config.escalation_policies[0].levels[1].targets == ["user:cto"]
    await clock.advance(timedelta(minutes=10))
    assert EscalationEngine(runtime).tick(clock.now()).sent == [(1, "r0-l1")]
    with runtime.sessions() as s:
        [_, second] = queries.steps_of(s, 1)
    assert second.users == ["lead"] and second.sent_at == t0 + timedelta(minutes=10)
