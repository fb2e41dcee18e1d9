"""Scenario 1 of SCENARIOS.md, "The 3 a.m. page", end to end on a fake clock.

The API's /health starts answering 500. After 3 consecutive failures a P1 alert fires and opens an
incident; this week's on-call engineer is paged on Slack and by SMS at once (two Apprise URLs), with
the runbook and a signed acknowledge link. Nobody acknowledges within 10 minutes: the lead is paged.
The lead acknowledges from the link; escalation stops. The lead runs "API Not Responding"; its steps'
output lands in the operations log and the incident timeline. The API recovers; the alert resolves; the
lead resolves the incident; the post-mortem has the figures. The status page said "Partial outage"
during the incident and lists it in its history afterwards.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import Engine

from opsbook.auth.roles import Principal, Role
from opsbook.clock import FakeClock
from opsbook.incidents import postmortem, queries, service
from opsbook.oplog.models import OplogEntryRow
from opsbook.pipeline import Pipeline
from opsbook.runbooks.service import find_procedure, start_run, take_step
from opsbook.web.app import create_app
from tests.e2e.conftest import Intervals, Service, eventually, team_yaml
from tests.notify.conftest import Receiver
from tests.support import make_runtime, serving

MONDAY_0300 = datetime(2026, 3, 9, 3, 0, tzinfo=UTC)
RUNBOOK = """# API runbook

## Troubleshooting

### API Not Responding

```bash
# 1. Check the health endpoint
echo "health: 500"
# 2. Restart the API
echo "api restarted"
```
"""


def config(api: Service, receiver: Receiver, runbooks: Path) -> str:
    return f"""
title: Acme
timezone: UTC
{team_yaml(receiver)}
channels:
  - {{name: ops, url: "{receiver.url("/ops")}"}}
runbooks:
  folders: ["{runbooks}"]
services:
  - name: api
    public: true
    rules:
      - {{name: api-down, check: health, when: "failures >= 3", severity: P1, runbook: "API Not Responding"}}
    checks:
      - {{name: health, kind: http, url: "{api.url}", interval: 30s, timeout: 2s, failures: 0}}
      - {{name: port, kind: tcp, host: 127.0.0.1, port: {api.port}, interval: 30s, timeout: 2s, failures: 0}}
"""


async def test_the_3am_page(sqlite_engine: Engine, api: Service, receiver: Receiver, tmp_path: Path) -> None:
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "api.md").write_text(RUNBOOK)
    clock = FakeClock(MONDAY_0300)
    runtime = make_runtime(sqlite_engine, clock, config(api, receiver, tmp_path / "runbooks"))
    pipeline = Pipeline(runtime)
    # /health runs at :00 and :30, the port check (spread) at :15 and :45: two runs an interval
    interval = Intervals(pipeline, clock, per_interval=2)

    async with serving(create_app(runtime, pipeline)) as base, httpx.AsyncClient(base_url=base) as http:
        await interval.started()
        api.status = 500
        for _ in range(3):
            await interval.next()

        # ana (on call this week, in Berlin) is paged on both contacts at once, with runbook and ack link
        both = ("/ana-slack", "/ana-sms")
        await eventually(lambda: all(receiver.bodies(path) for path in both), "ana's pages")
        opened = clock.now()
        page = receiver.bodies("/ana-sms")[0]
        assert page["title"].startswith("[P1] Incident #1")
        assert "API Not Responding" in page["message"]
        assert re.search(r"/ack/[\w.\-]+", page["message"])
        assert receiver.bodies("/ben") == [] and receiver.bodies("/lead") == []
        status = (await http.get("/status.json")).json()
        api_status = next(s for s in status["services"] if s["name"] == "api")
        assert api_status["state"] == "partial_outage"  # /health fails, the port still answers
        assert len(status["active_incidents"]) == 1

        # nobody acknowledges for 10 minutes: the lead is paged, at exactly +10 min
        while clock.now() < opened + timedelta(minutes=10):
            await interval.next()
        await eventually(lambda: bool(receiver.bodies("/lead")), "the lead's page")
        lead_page = receiver.bodies("/lead")[0]["message"]
        with runtime.sessions() as s:
            steps = {st.step_key: st.sent_at - opened for st in queries.steps_of(s, 1)}
        assert steps == {"r0-l0": timedelta(0), "r0-l1": timedelta(minutes=10)}

        # the lead acknowledges from the link on a phone: no login
        link = re.search(r"/ack/[\w.\-]+", lead_page)
        assert link is not None
        assert (await http.get(link.group(0))).status_code == 200  # the confirm page
        assert (await http.post(link.group(0))).status_code == 200
        assert (await http.post(link.group(0))).status_code in (400, 409, 410)  # works once
        acked = clock.now()

        # the lead runs the runbook for this incident; its output lands in the oplog and the timeline
        lead = Principal("lead", Role.RESPONDER)
        run = start_run(runtime, lead, find_procedure(runtime, "API Not Responding"), incident_id=1,
                        reason="API /health answers 500")
        for step in run.steps:
            taken = await take_step(runtime, lead, run.run.id, step.position, "run")
            assert taken.result.status == "succeeded", taken.result
        with runtime.sessions() as s:  # the last step closed the run
            entry = s.get(OplogEntryRow, taken.state.oplog_entry)
            assert entry is not None and "api restarted" in str(entry.steps)

        # the API recovers, the alert resolves, the lead resolves the incident
        api.status = 200
        await interval.next()
        while clock.now() < opened + timedelta(minutes=45):
            await interval.next()
        service.resolve_incident(runtime, lead, 1, message="API restarted")
        resolved = clock.now()
        await pipeline.notifier.run_once()
        assert receiver.bodies("/cto") == []  # acknowledged at +10 min: the CTO was never paged

        with runtime.sessions() as s:
            timeline = queries.timeline(s, 1)
            text = postmortem.build(s, runtime.config, 1, clock.now())
        kinds = [item.kind for item in timeline]
        assert kinds[0] == "opened" and "acknowledged" in kinds and kinds[-1] == "resolved"
        assert any(item.source == "oplog" and "API Not Responding" in item.message for item in timeline)
        assert f"Time to acknowledge: {postmortem.span(acked - opened)} by " in text
        assert f"Time to resolve: {postmortem.span(resolved - opened)}" in text
        assert "Time to detect:" in text and "## Root cause" in text

        async def status_page_updated() -> bool:  # readers get the last snapshot while a new one builds
            return bool((await http.get("/status.json")).json()["past_incidents"])

        await eventually(status_page_updated, "the status page to show the resolved incident")
        history = (await http.get("/status.json")).json()
        assert history["active_incidents"] == []
        assert len(history["past_incidents"]) == 1 and history["past_incidents"][0]["resolved_at"]
        assert next(s for s in history["services"] if s["name"] == "api")["state"] == "operational"
