"""Scenario 7 of SCENARIOS.md, "The bad deploy", end to end with real processes on a fake clock.

The API runs as two real HTTP service processes, staging and production; `deploy.sh ENV VERSION`
switches one of them to a version by writing its version file. Version 2.0 answers 500 on every 4th
request and takes 500 ms in production (staging never shows it). On Tuesday afternoon ana deploys api
2.0: staging passes its verification, an hour of production checks at 1.9 is the baseline, the
pre-deploy checklist (the runbook's "Pre-Deployment Checklist" confirm steps) is answered, production
deploys. Within the window the verification sees the error rate and p95 above the baseline: opsbook
rolls back to 1.9 by the rollback script, verifies health (3 healthy rounds), records the time from the
regression detected to healthy, opens a P2 incident "api 2.0 rolled back" with the figures and the
deploy's output, and the walk's exit code says rolled back (4). The on-call engineer's page names the
deploy and the rollback command; a firing message of another tool's alert on api names it too; the incident's
timeline and post-mortem show the deploy; the check's chart carries the deploy's marker; the month's
DORA figures count it as a failed change.

Time: the scenario's minutes are a FakeClock's, moved one verification round at a time while the real
probes and scripts run (a few seconds of real time).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from opsbook.auth.roles import Principal, Role
from opsbook.clock import FakeClock
from opsbook.deploys import queries, service, walk
from opsbook.deploys.report import dora_report
from opsbook.incidents import postmortem
from opsbook.incidents import queries as incidents
from opsbook.pipeline import Pipeline
from opsbook.web.app import create_app
from opsbook.web.ui.check_page import check_context
from tests.deploys.conftest import Answers, Versioned, drive, running, seed_baseline
from tests.e2e.conftest import eventually, team_yaml
from tests.notify.conftest import Receiver
from tests.support import make_runtime, serving

TUESDAY_1400 = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)  # 15:00 in Berlin
ANA = Principal("ana", Role.RESPONDER, "cli")
ROUTING_KEY = "R0UTINGKEYAPI000000000000000000000"

RUNBOOK = """# Operations

## Deployment Process

### Pre-Deployment Checklist

Before deploying to production:

```
☐ All tests passing locally
☐ Code review approved
☐ Rollback plan documented
```
"""


@pytest.fixture
def envs(tmp_path: Path) -> Iterator[tuple[Versioned, Versioned]]:
    with running(tmp_path, "staging", bad="") as staging, running(tmp_path, "production") as production:
        yield staging, production


def config(receiver: Receiver, staging: Versioned, production: Versioned, folder: Path) -> str:
    return f"""
title: Acme
timezone: Europe/Berlin
{team_yaml(receiver)}
channels:
  - {{name: ops, url: "{receiver.url("/ops")}"}}
grouping: {{window: 0s}}
alerting:
  routing_keys: {{api: {ROUTING_KEY}}}
runbooks: {{folders: ["{folder}"]}}
services:
  - name: api
    public: true
    checks:
      - {{name: health, kind: http, url: "{production.url}", interval: 30s, timeout: 2s}}
      - {{name: staging-health, kind: http, url: "{staging.url}", interval: 30s, timeout: 2s}}
    deploy:
      command: "sh deploy.sh {{env}} {{version}}"
      rollback_command: "sh deploy.sh {{env}} {{version}}"
      cwd: "{production.folder}"
      env: {{VERSIONS: "{production.folder}"}}
      environments:
        - {{name: staging, checks: [staging-health]}}
        - {{name: production, checks: [health]}}
      pre_checklist: "Pre-Deployment Checklist"
      verification: {{window: 10m, interval: 10s, baseline: 1h, min_samples: 5, healthy_samples: 3,
                      min_p95_increase: 400ms}}
"""


async def test_the_bad_deploy_is_rolled_back_by_itself(
    engine: Engine, receiver: Receiver, envs: tuple[Versioned, Versioned], tmp_path: Path
) -> None:
    staging, production = envs
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "OPERATIONS.md").write_text(RUNBOOK)
    clock = FakeClock(TUESDAY_1400 - timedelta(hours=1, minutes=15))
    runtime = make_runtime(engine, clock, config(receiver, staging, production, tmp_path / "runbooks"))
    pipeline = Pipeline(runtime)
    # last week's release, recorded by CI: 1.9 runs in production (the version a rollback goes back to)
    last_week = service.ChangeIn("api", "1.9", "production", started_at=clock.now() - timedelta(days=7))
    service.record_change(runtime, Principal("ci", Role.RESPONDER, "api"), last_week)

    # staging: 2.0 deploys and passes its verification (its checks run every 10 s for 10 minutes)
    said = Answers()
    staged = await drive(clock, said, walk.deploy(runtime, ANA, said, "api", "2.0", "staging"))
    assert staged.exit_code == 0 and staging.version == "2.0" and production.version == "1.9"
    assert said.asked == [("pre", "All tests passing locally"), ("pre", "Code review approved"),
                          ("pre", "Rollback plan documented")]

    # an hour of production at 1.9: the baseline (the health check probed every 5 minutes)
    await clock.advance_to(TUESDAY_1400 - timedelta(hours=1))
    await seed_baseline(runtime, clock, "api/health", runs=12)
    assert clock.now() == TUESDAY_1400

    # production: the checklist answered, 2.0 deploys, the window sees the regression, 1.9 comes back
    console = Answers()
    outcome = await drive(clock, console, walk.deploy(runtime, ANA, console, "api", "2.0"))
    assert (outcome.status, outcome.exit_code) == ("rolled_back", 4), console.said
    assert production.version == "1.9"
    assert "switching production to 2.0" in console.lines and "switching production to 1.9" in console.lines
    # measured on the fake clock in verification rounds of 10 s; how many rounds the rollback needs to look
    # healthy again depends on real probe latencies (a loaded machine can make a healthy probe slow)
    assert outcome.restore_seconds is not None and 0 < outcome.restore_seconds <= 600
    assert outcome.restore_seconds % 10 == 0

    with runtime.sessions() as session:
        row = queries.get_deploy(session, outcome.deploy_id)
        assert (row.version, row.previous_version, row.rollback_version) == ("2.0", "1.9", "1.9")
        assert [a["item"] for a in row.checklist if a["done"]] == [
            "All tests passing locally", "Code review approved", "Rollback plan documented"]
        [check] = row.verdict["checks"]
        assert check["check"] == "api/health" and check["baseline"]["count"] == 12
        assert check["baseline"]["failures"] == 0 and check["window"]["count"] == 5  # found at the 5th round
        assert check["window"]["failures"] == 1 and check["window"]["p95_ms"] >= 500
        reasons = row.verdict["reasons"]
        assert len(reasons) == 2, row.verdict
        assert reasons[0].startswith("api/health: error rate 20.0 % against a baseline of 0.0 %")
        assert reasons[1].startswith("api/health: p95 ") and "against a baseline of" in reasons[1]
        assert row.regression_at == TUESDAY_1400 + timedelta(seconds=40)
        assert row.restored_at is not None and row.restore_seconds == (row.restored_at - row.regression_at
                                                                        ).total_seconds()
        assert "production now on 2.0" in row.output and "production now on 1.9" in row.output

        # the P2 incident with the figures and the deploy's output
        incident = incidents.get_incident(session, row.incident_id or 0)
        assert (incident.title, incident.severity, incident.service) == ("api 2.0 rolled back", "P2", "api")
        assert "error rate 20.0 %" in incident.summary and "production now on 1.9" in incident.summary
        timeline = incidents.timeline(session, incident.id)
        [mark] = [i for i in timeline if i.kind == "deploy"]
        assert mark.message.startswith("api 2.0 deployed by ana (production, rolled back to 1.9) ")
        assert " before this incident (deploy #3)" in mark.message
        draft = postmortem.build(session, runtime.config, incident.id, clock.now())
        assert "## Deploys" in draft and "api 2.0 deployed by ana (production, rolled back to 1.9)" in draft
        assert "api 2.0 deployed by ana (staging)" not in draft.split("## Timeline")[0]  # over an hour before

        # the check's chart carries the deploy as a marker
        chart = str(check_context(runtime, session, "api/health", "6h")["chart"])
        assert 'class="marker"' in chart and ">2.0</text>" in chart and "rolled back to 1.9" in chart

        # the month's DORA figures: two production deploys, one failed, restored in the measured time
        [api, _total] = dora_report(session, runtime.config, clock.now() - timedelta(days=30), clock.now())
        assert (api.service, api.deployments, api.failures, api.change_failure_rate) == ("api", 2, 1, 0.5)
        assert api.time_to_restore == timedelta(seconds=row.restore_seconds or 0)
    metrics = pipeline.metrics.render().decode()  # the same figures on /metrics
    assert 'opsbook_change_failure_rate{service="api"} 0.5' in metrics
    assert 'opsbook_deploys{service="api"} 2.0' in metrics and "opsbook_deploys_running 0.0" in metrics

    # ben, on call this week, is paged for the incident: the page names the deploy and how to roll it back
    await pipeline.notifier.run_once()
    await eventually(lambda: bool(receiver.bodies("/ben")), "ben's page")
    [page] = [b["message"] for b in receiver.bodies("/ben")]
    assert re.search(r"Deploy: +api 2\.0 deployed by ana \(production, rolled back to 1\.9\) .* ago "
                     r"\(deploy #3\); roll back: opsbook deploy rollback api --env production", page), page

    # another tool's alert on api within the hour: its firing message names the deploy too
    event = {"routing_key": ROUTING_KEY, "event_action": "trigger",
             "payload": {"summary": "checkout errors", "source": "grafana", "severity": "warning"}}
    async with serving(create_app(runtime, pipeline)) as base, httpx.AsyncClient(base_url=base) as http:
        assert (await http.post("/api/v1/events/pagerduty", json=event)).status_code == 202
    await pipeline.notifier.run_once()
    await eventually(lambda: any("FIRING" in b["title"] for b in receiver.bodies("/ops")), "the firing one")
    [firing] = [b["message"] for b in receiver.bodies("/ops") if "FIRING" in b["title"]]
    assert "roll back: opsbook deploy rollback api --env production" in firing
