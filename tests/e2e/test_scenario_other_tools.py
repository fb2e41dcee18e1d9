"""Scenario 6 of SCENARIOS.md, "Other tools page through opsbook", end to end on a fake clock.

Prometheus' Alertmanager posts its webhook (payload version 4) to /api/v1/events/alertmanager and
Grafana sends PagerDuty Events API v2 events to /api/v1/events/pagerduty. Both become alerts and
incidents with the routing, escalation and status page of opsbook's own checks: the on-call engineer is
paged through Apprise with a signed acknowledge link, the next level is paged at +10 minutes unless
someone acknowledges, a resolve from the other tool resolves the alert and is announced, a repeated
trigger changes nothing, and the public status page shows the service's outage while the incident is open.
Malformed payloads are refused with 400 and the reasons.
"""

from __future__ import annotations

import asyncio
import copy
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine

from opsbook.auth.roles import Role
from opsbook.auth.tokens import create_token
from opsbook.clock import FakeClock
from opsbook.incidents import queries as incidents
from opsbook.pipeline import Pipeline
from opsbook.runtime import Runtime
from opsbook.web.app import create_app
from tests.e2e.conftest import eventually, team_yaml
from tests.notify.conftest import Receiver
from tests.support import make_runtime, serving

MONDAY_0300 = datetime(2026, 3, 9, 3, 0, tzinfo=UTC)  # ana's week (Berlin handoff Mondays 09:00)
ROUTING_KEY = "R0UT1NGKEY0F0GRAFANA0000000000AB"
ACK_LINK = re.compile(r"/ack/[\w.\-]+")


def config(receiver: Receiver, auto_resolve: bool = False) -> str:
    return f"""
title: Acme
timezone: UTC
{team_yaml(receiver)}
channels:
  - {{name: ops, url: "{receiver.url("/ops")}"}}
grouping: {{window: 0s}}
incidents: {{auto_resolve: {str(auto_resolve).lower()}}}
alerting:
  routing_keys: {{web: {ROUTING_KEY}}}
services:
  - {{name: api, public: true, description: "The public API"}}
  - {{name: web, public: true, description: "The website"}}
  - {{name: internal, public: false}}
"""


def am_alert(status: str = "firing", **labels: str) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {
            "alertname": "HighErrorRate",
            "service": "api",
            "severity": "critical",
            "instance": "api-1:9090",
            **labels,
        },
        "annotations": {
            "summary": "API 5xx rate above 5% for 5 minutes",
            "description": "job=api is answering 7.3% of requests with a 5xx",
            "runbook_url": "https://wiki.example.com/runbooks/api-errors",
        },
        "startsAt": "2026-03-09T02:55:00Z",
        "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-03-09T03:40:00Z",
        "generatorURL": "http://prometheus:9090/graph?g0.expr=job%3Aerrors%3Arate5m+%3E+0.05",
        "fingerprint": "c4b3f5d6e7a8b9c0",
    }


def am_webhook(status: str = "firing") -> dict[str, Any]:
    """Alertmanager's documented webhook payload (version 4) for one alert."""
    alert = am_alert(status)
    return {
        "version": "4",
        "groupKey": '{}/{severity="critical"}:{alertname="HighErrorRate"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "opsbook",
        "groupLabels": {"alertname": "HighErrorRate"},
        "commonLabels": dict(alert["labels"]),
        "commonAnnotations": dict(alert["annotations"]),
        "externalURL": "http://alertmanager:9093",
        "alerts": [alert],
    }


def pd_event(action: str = "trigger", **extra: Any) -> dict[str, Any]:
    """A PagerDuty Events API v2 event as Grafana's PagerDuty contact point sends it."""
    event: dict[str, Any] = {
        "routing_key": ROUTING_KEY,
        "event_action": action,
        "dedup_key": "grafana-alert-web-latency-7f3a",
    }
    if action == "trigger":
        event.update(
            payload={
                "summary": "[FIRING:1] Website checkout latency",
                "source": "grafana",
                "severity": "critical",
                "timestamp": "2026-03-09T03:00:00.000+00:00",
                "component": "checkout",
                "group": "web",
                "class": "latency",
                "custom_details": {"p99_ms": 2300},
            },
            client="Grafana",
            client_url="http://grafana:3000/alerting/list",
            links=[{"href": "https://wiki.example.com/runbooks/web-latency", "text": "Runbook"}],
            images=[],
        )
    event.update(extra)
    return event


async def started(runtime: Runtime) -> tuple[Pipeline, str]:
    """The pipeline, and a responder API token (what Alertmanager's http_config carries)."""
    with runtime.sessions.begin() as s:
        token = create_token(s, "alertmanager", Role.RESPONDER, runtime.clock.now())
    return Pipeline(runtime), token


async def tick(pipeline: Pipeline, at: datetime) -> list[tuple[int, str]]:
    """One pass of the escalation engine at `at` (what its loop does); the steps it sent."""
    return (await asyncio.to_thread(pipeline.escalation.tick, at)).sent


def titles(receiver: Receiver, path: str, word: str) -> list[str]:
    """Titles of the messages `path` received that contain `word` (FIRING, RESOLVED, Acknowledged)."""
    return [b["title"] for b in receiver.bodies(path) if word in b["title"]]


def step_times(runtime: Runtime, incident_id: int, opened: datetime) -> dict[str, timedelta]:
    with runtime.sessions() as s:
        return {st.step_key: st.sent_at - opened for st in incidents.steps_of(s, incident_id)}


async def public_state(http: httpx.AsyncClient, service: str) -> tuple[str, int]:
    status = (await http.get("/status.json")).json()
    state = next(s for s in status["services"] if s["name"] == service)["state"]
    return state, len(status["active_incidents"])


async def test_alertmanager_webhook_pages_escalates_and_resolves(
    sqlite_engine: Engine, receiver: Receiver
) -> None:
    clock = FakeClock(MONDAY_0300)
    runtime = make_runtime(sqlite_engine, clock, config(receiver))
    pipeline, token = await started(runtime)
    auth = {"Authorization": f"Bearer {token}"}
    url = "/api/v1/events/alertmanager"

    async with serving(create_app(runtime, pipeline)) as base, httpx.AsyncClient(base_url=base) as http:
        assert await public_state(http, "api") == ("operational", 0)

        # Alertmanager must authenticate; a viewer token is not enough to raise alerts
        assert (await http.post(url, json=am_webhook())).status_code == 401
        with runtime.sessions.begin() as s:
            viewer = create_token(s, "dashboards", Role.VIEWER, clock.now())
        denied = await http.post(url, json=am_webhook(), headers={"Authorization": f"Bearer {viewer}"})
        assert denied.status_code == 403

        # malformed payloads: 400 with the reasons, and nothing is recorded
        not_json = await http.post(url, content=b"{not json", headers=auth)
        assert not_json.status_code == 400 and "not JSON" in str(not_json.json()["errors"])
        no_alerts = {k: v for k, v in am_webhook().items() if k != "alerts"}
        answer = await http.post(url, json=no_alerts, headers=auth)
        assert answer.status_code == 400 and any("alerts" in e for e in answer.json()["errors"])
        answer = await http.post(url, json={**am_webhook(), "version": "3"}, headers=auth)
        assert answer.status_code == 400 and "expected '4'" in answer.json()["errors"][0]
        bad_status = am_webhook()
        bad_status["alerts"][0]["status"] = "burning"
        answer = await http.post(url, json=bad_status, headers=auth)
        assert answer.status_code == 400 and any("alerts.0.status" in e for e in answer.json()["errors"])
        assert (await http.get("/api/v1/alerts", headers=auth)).json() == []

        # the firing notification: one P1 alert on the service its labels name, and an incident
        answer = await http.post(url, json=am_webhook(), headers=auth)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"status": "success", "alerts": 1, "transitions": 1}
        opened = clock.now()
        (alert,) = (await http.get("/api/v1/alerts", headers=auth)).json()
        assert alert["source"] == "alertmanager" and alert["state"] == "firing"
        assert (alert["service"], alert["severity"]) == ("api", "P1")
        assert alert["summary"] == "API 5xx rate above 5% for 5 minutes"
        assert alert["dedup_key"] == "c4b3f5d6e7a8b9c0"
        assert alert["runbook"] == "https://wiki.example.com/runbooks/api-errors"
        assert alert["labels"]["alertname"] == "HighErrorRate"
        (incident,) = (await http.get("/api/v1/incidents", headers=auth)).json()
        assert (incident["id"], incident["severity"], incident["service"]) == (1, "P1", "api")
        assert incident["status"] == "triggered" and incident["source"] == "alertmanager"

        # ana, on call this week, is paged at once on both contacts, with a signed ack link; the team
        # channel gets the firing message like for a check's alert
        await pipeline.notifier.run_once()
        await eventually(
            lambda: bool(receiver.bodies("/ana-slack") and receiver.bodies("/ana-sms")), "ana's pages"
        )
        await eventually(
            lambda: bool(titles(receiver, "/ops", "FIRING")), "the firing message on the ops channel"
        )
        page = receiver.bodies("/ana-sms")[0]
        assert page["title"].startswith("[P1] Incident #1")
        assert ACK_LINK.search(page["message"])
        assert titles(receiver, "/ops", "FIRING") == ["[P1] FIRING: api: API 5xx rate above 5% for 5 minutes"]
        assert receiver.bodies("/ben") == [] and receiver.bodies("/lead") == []

        # the public status page shows the API's outage while the incident is open
        async def api_down() -> bool:
            return await public_state(http, "api") == ("partial_outage", 1)

        await eventually(api_down, "the status page to show the API's incident")
        assert (await public_state(http, "web"))[0] == "operational"

        # Alertmanager repeats its notification (repeat_interval, or another replica): nothing new
        again = await http.post(url, json=am_webhook(), headers=auth)
        assert again.status_code == 200 and again.json()["transitions"] == 0
        assert len((await http.get("/api/v1/alerts", headers=auth)).json()) == 1
        assert len((await http.get("/api/v1/incidents", headers=auth)).json()) == 1
        await pipeline.notifier.run_once()
        assert len(receiver.bodies("/ana-sms")) == 1 and len(receiver.bodies("/ana-slack")) == 1
        assert len(titles(receiver, "/ops", "FIRING")) == 1

        # nobody acknowledges: at 9m59s nothing more, at exactly +10 min the lead is paged
        await clock.advance_to(opened + timedelta(minutes=9, seconds=59))
        assert await tick(pipeline, clock.now()) == []
        assert receiver.bodies("/lead") == []
        await clock.advance_to(opened + timedelta(minutes=10))
        await eventually(lambda: bool(receiver.bodies("/lead")), "the lead's page")
        assert step_times(runtime, 1, opened) == {"r0-l0": timedelta(0), "r0-l1": timedelta(minutes=10)}

        # the lead acknowledges from the link; escalation stops: the CTO is never paged
        link = ACK_LINK.search(receiver.bodies("/lead")[0]["message"])
        assert link is not None
        assert (await http.post(link.group(0))).status_code == 200
        acked = (await http.get("/api/v1/incidents/1", headers=auth)).json()
        assert acked["status"] == "acknowledged" and acked["acknowledged_by"] == "lead"
        await clock.advance_to(opened + timedelta(minutes=45))
        assert await tick(pipeline, clock.now()) == []
        await pipeline.notifier.run_once()
        assert receiver.bodies("/cto") == []

        # Alertmanager sends the resolved notification: the alert resolves and that is announced
        resolved_at = clock.now()
        answer = await http.post(url, json=am_webhook("resolved"), headers=auth)
        assert answer.status_code == 200 and answer.json()["transitions"] == 1
        (alert,) = (await http.get("/api/v1/alerts", headers=auth)).json()
        assert alert["state"] == "resolved" and alert["resolved_at"] is not None
        assert datetime.fromisoformat(alert["resolved_at"]) == resolved_at
        await pipeline.notifier.run_once()
        await eventually(lambda: bool(titles(receiver, "/ops", "RESOLVED")), "the resolved message")
        assert titles(receiver, "/ops", "RESOLVED") == [
            "[P1] RESOLVED: api: API 5xx rate above 5% for 5 minutes"
        ]
        again = await http.post(url, json=am_webhook("resolved"), headers=auth)
        assert again.status_code == 200 and again.json()["transitions"] == 0
        with runtime.sessions() as s:
            kinds = [item.kind for item in incidents.timeline(s, 1)]
        assert "alert_resolved" in kinds and "all_alerts_resolved" in kinds


async def test_pagerduty_events_from_grafana_page_escalate_and_resolve(
    sqlite_engine: Engine, receiver: Receiver
) -> None:
    clock = FakeClock(MONDAY_0300)
    runtime = make_runtime(sqlite_engine, clock, config(receiver, auto_resolve=True))
    pipeline, token = await started(runtime)
    auth = {"Authorization": f"Bearer {token}"}
    url = "/api/v1/events/pagerduty"

    async with serving(create_app(runtime, pipeline)) as base, httpx.AsyncClient(base_url=base) as http:
        # malformed events: 400 as PagerDuty answers them, with the reasons
        async def refused(body: Any, why: str) -> None:
            answer = (
                await http.post(url, json=body)
                if not isinstance(body, bytes)
                else (await http.post(url, content=body))
            )
            assert answer.status_code == 400, (body, answer.text)
            data = answer.json()
            assert data["status"] == "invalid event" and data["message"] == "Event object is invalid"
            assert any(why in e for e in data["errors"]), data

        await refused(b"routing_key=x", "not JSON")
        await refused([pd_event()], "JSON object")
        await refused(pd_event(routing_key="not-a-known-key"), "routing_key")
        await refused({k: v for k, v in pd_event().items() if k != "payload"}, "payload")
        no_summary = copy.deepcopy(pd_event())
        del no_summary["payload"]["summary"]
        await refused(no_summary, "payload.summary")
        await refused(pd_event(event_action="snooze"), "event_action")
        bad_severity = copy.deepcopy(pd_event())
        bad_severity["payload"]["severity"] = "apocalyptic"
        await refused(bad_severity, "payload.severity")
        await refused({k: v for k, v in pd_event("resolve").items() if k != "dedup_key"}, "dedup_key")
        assert (await http.get("/api/v1/alerts", headers=auth)).json() == []

        # the trigger: a P1 alert on the service the routing key belongs to, and an incident
        answer = await http.post(url, json=pd_event())
        assert answer.status_code == 202, answer.text
        assert answer.json() == {
            "status": "success",
            "message": "Event processed",
            "dedup_key": "grafana-alert-web-latency-7f3a",
        }
        opened = clock.now()
        (alert,) = (await http.get("/api/v1/alerts", headers=auth)).json()
        assert alert["source"] == "pagerduty" and alert["state"] == "firing"
        assert (alert["service"], alert["severity"]) == ("web", "P1")
        assert alert["summary"] == "[FIRING:1] Website checkout latency"
        assert alert["labels"] == {
            "source": "grafana",
            "component": "checkout",
            "group": "web",
            "class": "latency",
        }
        assert alert["runbook"] == "https://wiki.example.com/runbooks/web-latency"
        detail = (await http.get(f"/api/v1/alerts/{alert['id']}", headers=auth)).json()
        assert detail["payload"]["payload"]["custom_details"] == {"p99_ms": 2300}
        assert ROUTING_KEY not in str(detail)  # the routing key is a credential: never stored or shown
        (incident,) = (await http.get("/api/v1/incidents", headers=auth)).json()
        assert (incident["severity"], incident["service"], incident["source"]) == ("P1", "web", "pagerduty")

        await pipeline.notifier.run_once()
        await eventually(
            lambda: bool(receiver.bodies("/ana-slack") and receiver.bodies("/ana-sms")), "ana's pages"
        )
        assert receiver.bodies("/ana-slack")[0]["title"].startswith("[P1] Incident #1")
        assert ACK_LINK.search(receiver.bodies("/ana-slack")[0]["message"])
        await eventually(
            lambda: bool(titles(receiver, "/ops", "FIRING")), "the firing message on the ops channel"
        )

        async def web_down() -> bool:
            return await public_state(http, "web") == ("partial_outage", 1)

        await eventually(web_down, "the status page to show the website's incident")
        assert (await public_state(http, "api"))[0] == "operational"

        # Grafana re-sends the same trigger (same dedup_key): one alert, one page
        again = await http.post(url, json=pd_event())
        assert again.status_code == 202 and again.json()["dedup_key"] == "grafana-alert-web-latency-7f3a"
        assert len((await http.get("/api/v1/alerts", headers=auth)).json()) == 1
        assert len((await http.get("/api/v1/incidents", headers=auth)).json()) == 1
        await pipeline.notifier.run_once()
        assert len(receiver.bodies("/ana-sms")) == 1 and len(titles(receiver, "/ops", "FIRING")) == 1

        # ana acknowledges from her page after 4 minutes: at +10 min nobody else is paged
        await clock.advance_to(opened + timedelta(minutes=4))
        link = ACK_LINK.search(receiver.bodies("/ana-sms")[0]["message"])
        assert link is not None
        forged = link.group(0)[:-4] + ("AAAA" if not link.group(0).endswith("AAAA") else "BBBB")
        assert (await http.post(forged)).status_code >= 400  # the link is signed: a forged one fails
        assert (await http.get(link.group(0))).status_code == 200
        assert (await http.post(link.group(0))).status_code == 200
        (incident,) = (await http.get("/api/v1/incidents", headers=auth)).json()
        assert (incident["status"], incident["acknowledged_by"]) == ("acknowledged", "ana")
        await clock.advance_to(opened + timedelta(minutes=30, seconds=1))
        assert await tick(pipeline, clock.now()) == []
        await pipeline.notifier.run_once()
        assert receiver.bodies("/lead") == [] and receiver.bodies("/cto") == []
        assert step_times(runtime, 1, opened) == {"r0-l0": timedelta(0)}

        # Grafana's resolve: the alert resolves (announced), and with auto_resolve the incident too
        answer = await http.post(url, json=pd_event("resolve"))
        assert answer.status_code == 202
        (alert,) = (await http.get("/api/v1/alerts", headers=auth)).json()
        assert alert["state"] == "resolved"
        await pipeline.notifier.run_once()
        await eventually(lambda: bool(titles(receiver, "/ops", "RESOLVED")), "the resolved message")
        assert titles(receiver, "/ops", "RESOLVED") == [
            "[P1] RESOLVED: web: [FIRING:1] Website checkout latency"
        ]
        (incident,) = (await http.get("/api/v1/incidents", headers=auth)).json()
        assert incident["status"] == "resolved"

        async def web_back() -> bool:
            return await public_state(http, "web") == ("operational", 0)

        await eventually(web_back, "the status page to show the website operational again")
        history = (await http.get("/status.json")).json()["past_incidents"]
        assert [(i["services"], bool(i["resolved_at"])) for i in history] == [(["web"], True)]


async def test_pagerduty_escalates_at_ten_minutes_and_its_acknowledge_stops_it(
    sqlite_engine: Engine, receiver: Receiver
) -> None:
    """No one acknowledges in opsbook: the lead is paged at +10 min; Grafana's (or a PagerDuty client's)
    `acknowledge` event then stops the escalation like an acknowledgement in opsbook does."""
    clock = FakeClock(MONDAY_0300)
    runtime = make_runtime(sqlite_engine, clock, config(receiver))
    pipeline, token = await started(runtime)
    auth = {"Authorization": f"Bearer {token}"}
    url = "/api/v1/events/pagerduty"

    async with serving(create_app(runtime, pipeline)) as base, httpx.AsyncClient(base_url=base) as http:
        assert (await http.post(url, json=pd_event())).status_code == 202
        opened = clock.now()
        await pipeline.notifier.run_once()
        await eventually(lambda: bool(receiver.bodies("/ana-sms")), "ana's page")

        await clock.advance_to(opened + timedelta(minutes=10))
        await eventually(lambda: bool(receiver.bodies("/lead")), "the lead's page")
        assert step_times(runtime, 1, opened) == {"r0-l0": timedelta(0), "r0-l1": timedelta(minutes=10)}
        assert receiver.bodies("/lead")[0]["title"].startswith("[P1] ESCALATED to level 2: Incident #1")

        answer = await http.post(url, json=pd_event("acknowledge"))
        assert answer.status_code == 202
        incident = (await http.get("/api/v1/incidents/1", headers=auth)).json()
        assert incident["status"] == "acknowledged" and incident["acknowledged_at"] is not None
        (alert,) = (await http.get("/api/v1/alerts", headers=auth)).json()
        assert alert["acknowledged_at"] is not None and alert["state"] == "firing"
        await clock.advance_to(opened + timedelta(minutes=45))
        assert await tick(pipeline, clock.now()) == []
        await pipeline.notifier.run_once()
        assert receiver.bodies("/cto") == []
