"""Time to detect counts from the check's first failed result, not from the alert firing; an incident
resolved without an acknowledgement has no time to acknowledge (the post-mortem says "never", MTTA and
its gauge leave it out, and it is counted as never acknowledged)."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import CollectorRegistry, generate_latest
from tests.incidents.conftest import Team

from opsbook.auth.roles import Principal, Role
from opsbook.incidents import metrics as incident_metrics
from opsbook.incidents import postmortem, report, service
from opsbook.incidents.detection import first_failure
from opsbook.incidents.queries import get_incident

BEN = Principal("ben", Role.RESPONDER, "cli")


async def _three_failures(team: Team) -> None:
    """api/health (default rule: three failures in a row) fails at 09:00:00, 09:00:30, 09:01:00."""
    team.result("api/health", status="down")
    for _ in range(2):
        await team.clock.advance(timedelta(seconds=30))
        fired = team.result("api/health", status="down")
    assert [t.kind.value for t in fired] == ["fired"]


async def test_time_to_detect_starts_at_the_first_failed_result(team: Team) -> None:
    start = team.clock.now()
    await _three_failures(team)
    with team.runtime.sessions() as s:
        row = get_incident(s, 1)
        assert row.detected_at == start
        assert row.opened_at == start + timedelta(minutes=1)
        text = postmortem.build(s, team.config, 1, team.clock.now())
    assert "Time to detect: 1 min (first sign of trouble → incident opened)" in text
    assert "| First sign of trouble | 2026-01-05 09:00:00 UTC | -1 min |" in text
    assert "first failed result 2026-01-05 09:00:00 UTC, condition met 2026-01-05 09:01:00 UTC" in text


async def test_the_failure_run_is_counted_from_its_first_not_up_state(team: Team) -> None:
    start = team.clock.now()
    team.result("api/health", status="down")  # an earlier run of failures that ended
    await team.clock.advance(timedelta(seconds=30))
    team.result("api/health", status="up")
    await team.clock.advance(timedelta(seconds=30))
    began = team.clock.now()
    team.result("api/health", status="degraded")  # degraded, then down: one run of trouble
    await team.clock.advance(timedelta(seconds=30))
    team.result("api/health", status="down")
    await team.clock.advance(timedelta(seconds=30))
    with team.runtime.sessions() as s:
        assert first_failure(s, "api/health", team.clock.now()) == began
        assert first_failure(s, "api/health", start + timedelta(seconds=45)) is None  # up then
        assert first_failure(s, "api/health", start) == start
        assert first_failure(s, "db/ping", team.clock.now()) is None  # no state known


async def test_an_incident_resolved_without_acknowledgement_has_no_time_to_acknowledge(team: Team) -> None:
    await _three_failures(team)  # incident 1 opens at 09:01
    await team.clock.advance(timedelta(minutes=3))
    service.resolve_incident(team.runtime, BEN, 1, message="it came back")  # 09:04, nobody acknowledged
    team.result("db/ping", status="down")  # incident 2 (db), acknowledged after 2 minutes, resolved after 6
    await team.clock.advance(timedelta(minutes=2))
    service.acknowledge_incident(team.runtime, BEN, 2)
    await team.clock.advance(timedelta(minutes=4))
    service.resolve_incident(team.runtime, BEN, 2)
    now = team.clock.now()
    with team.runtime.sessions() as s:
        row = get_incident(s, 1)
        assert row.acknowledged_at is None and row.acknowledged_by is None
        assert row.resolved_at is not None
        text = postmortem.build(s, team.config, 1, now)
        figures = report.incident_report(s, now - timedelta(days=1), now)
    assert "- Time to acknowledge: never acknowledged\n" in text
    assert "| Acknowledged | never acknowledged | — |" in text
    assert "- Time to resolve: 3 min by ben" in text
    assert figures.total.never_acknowledged == 1
    assert figures.total.acknowledged == 1
    assert figures.total.mtta_s == 120.0  # incident 2 only; incident 1's 3 minutes are not an ack time
    assert figures.total.mttr_s == (180.0 + 360.0) / 2
    assert figures.total.mttd_s == 60.0 / 2  # api: first failure 1 min before it opened; db: at once
    by_service = {g.key: g for g in figures.by_service}
    assert by_service["api"].mtta_s is None and by_service["api"].mttr_s == 180.0

    registry = CollectorRegistry()
    incident_metrics.register_metrics(registry, team.runtime.sessions, team.clock)
    metrics = generate_latest(registry).decode()
    assert 'opsbook_incident_mtta_seconds{service="db",severity="P2"} 120.0' in metrics
    assert 'opsbook_incident_mtta_seconds{service="api"' not in metrics
    assert 'opsbook_incident_mttr_seconds{service="api",severity="P2"} 180.0' in metrics
    assert 'opsbook_incidents_never_acknowledged{severity="P2"} 1.0' in metrics
    assert 'opsbook_incident_mttd_seconds{service="api",severity="P2"} 60.0' in metrics
