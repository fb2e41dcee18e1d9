"""The post-mortem draft of a real incident: its timeline and its figures (detect, acknowledge, resolve)."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import CollectorRegistry, generate_latest
from tests.incidents.conftest import Team, fire_p1

from opsbook.auth.roles import Principal, Role
from opsbook.incidents import metrics as incident_metrics
from opsbook.incidents import postmortem, service
from opsbook.oplog.service import add_entry

BEN = Principal("ben", Role.RESPONDER, "cli")


async def test_postmortem_has_the_real_timeline_and_figures(team: Team) -> None:
    t0 = await fire_p1(team)  # the alert went pending at 09:00, fired and opened the incident at 09:05
    cfg = team.config
    engine = team.engine()
    await team.clock.advance(timedelta(minutes=10))
    engine.tick(team.clock.now())  # the lead is paged at 09:15
    await team.clock.advance(timedelta(minutes=2))
    service.acknowledge_incident(team.runtime, BEN, 1)  # 09:17
    service.set_incident_status(team.runtime, BEN, 1, "identified", message="bad deploy 4.2",
                                impact="API slow for every customer")
    await team.clock.advance(timedelta(minutes=8))
    with team.runtime.sessions.begin() as s:
        add_entry(s, now=team.clock.now(), operation="Roll back to 4.1", operator="ben",
                  reason="bad deploy", incident_id=1, source="manual")  # 09:25
    await team.clock.advance(timedelta(minutes=22))
    service.resolve_incident(team.runtime, BEN, 1, message="latency back to normal")  # 09:47
    with team.runtime.sessions() as s:
        text = postmortem.build(s, cfg, 1)

    assert text.startswith("# Post-mortem: incident #1 — API p95 900 ms > 500 ms\n")
    assert ("A P1 incident on api: API p95 900 ms > 500 ms. It opened 2026-01-05 09:05:00 UTC and was "
            "resolved 2026-01-05 09:47:00 UTC after 42 min.") in text
    assert "API slow for every customer" in text
    for row in ("| First sign of trouble | 2026-01-05 09:00:00 UTC | -5 min |",
                "| Opened | 2026-01-05 09:05:00 UTC | 0 s |",
                "| Acknowledged | 2026-01-05 09:17:00 UTC | 12 min |",
                "| Resolved | 2026-01-05 09:47:00 UTC | 42 min |"):
        assert row in text
    assert "- Alert #1 on `api/health`, rule `api-p95` (P1, rule): API p95 900 ms > 500 ms" in text
    assert "Time to detect: 5 min (first sign of trouble → incident opened)" in text
    assert "- Time to acknowledge: 12 min by ben" in text
    assert "- Response SLA: acknowledge by 2026-01-05 09:20:00 UTC: met" in text
    assert "- Time to resolve: 42 min by ben" in text
    assert "  - 2026-01-05 09:15:00 UTC: level 2 → lead" in text  # counted from 1, not the key r0-l1
    timeline = text.split("## Timeline", 1)[1].split("## Root cause", 1)[0]
    rows = [line for line in timeline.splitlines() if line.startswith("| 2026")]
    assert [r.split(" | ")[1] for r in rows] == [
        "Opened", "Paged", "Alert joined", "Paged", "Acknowledged", "Status changed", "Operation", "Resolved"]
    assert rows[0].startswith("| 2026-01-05 09:05:00 UTC | Opened | opsbook | Incident opened")
    assert rows[6] == "| 2026-01-05 09:25:00 UTC | Operation | ben | Roll back to 4.1 — bad deploy |"
    assert rows[7].endswith("| Resolved | ben | Resolved by ben: latency back to normal |")
    for heading in ("## Root cause", "## What went well", "## What went wrong", "## Action items"):
        assert heading in text
    assert t0 == team.clock.now() - timedelta(minutes=42)

    registry = CollectorRegistry()
    incident_metrics.register_metrics(registry, team.runtime.sessions, team.clock)
    metrics = generate_latest(registry).decode()
    assert 'opsbook_incident_mtta_seconds{service="api",severity="P1"} 720.0' in metrics
    assert 'opsbook_incident_mttr_seconds{service="api",severity="P1"} 2520.0' in metrics
    assert 'opsbook_incident_pages{user="lead"} 1.0' in metrics
    assert 'opsbook_incidents_open{severity="P1"} 0.0' in metrics
    assert 'opsbook_incident_sla_breaches{severity="P1"} 0.0' in metrics
