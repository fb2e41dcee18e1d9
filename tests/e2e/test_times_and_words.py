"""What a person reads after the 3 a.m. page, for a team in Europe/Berlin: every time in CET with the zone
shown (incident page, timeline, escalation, alerts, oplog, audit, run, ack page, chart axis, CLI tables, the
page sent), ISO UTC in the API; escalation levels and run steps counted from 1; timeline kinds in words;
"api · health · rule api-down", never "api/healthrule api-down" or "run #1 run #1". And one time parser:
`maintenance add --start now` works in the CLI as in the web form.

The incident is made the real way (a failing HTTP service, the pipeline on a fake clock, a page acknowledged
from its link, a runbook run), then every surface is read as a person would.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from opsbook.auth import passwords
from opsbook.auth.roles import Principal, Role
from opsbook.cli.main import app as cli
from opsbook.clock import FakeClock
from opsbook.incidents import service
from opsbook.pipeline import Pipeline
from opsbook.runbooks.service import find_procedure, start_run, take_step
from opsbook.web.app import create_app
from opsbook.web.ui import mount_ui
from tests.e2e.conftest import Service, eventually, team_yaml
from tests.e2e.test_scenario_3am_page import RUNBOOK
from tests.notify.conftest import Receiver
from tests.support import make_runtime, serving

MONDAY_0300 = datetime(2026, 3, 9, 3, 0, tzinfo=UTC)  # 04:00 CET
PASSWORD = "correct horse battery"


@dataclass
class Pages:
    """What the test read: pages by path, the sent messages, the API's incident, the CLI's config file."""

    html: dict[str, str]
    messages: list[str]
    api_incident: dict[str, object]
    config: Path


def _config(api: Service, receiver: Receiver, tmp_path: Path) -> str:
    return f"""
title: Acme
timezone: Europe/Berlin
database_url: sqlite:///{tmp_path}/opsbook.db
{team_yaml(receiver)}
channels:
  - {{name: ops, url: "{receiver.url("/ops")}"}}
runbooks:
  folders: ["{tmp_path / "runbooks"}"]
services:
  - name: api
    public: true
    rules:
      - {{name: api-down, check: health, when: "failures >= 3", severity: P1, runbook: "API Not Responding"}}
    checks:
      - {{name: health, kind: http, url: "{api.url}", interval: 30s, timeout: 2s, failures: 0}}
"""


def _text(html: str) -> str:
    """The page as read: tags out, whitespace runs as one space."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.fixture
async def pages(sqlite_engine: Engine, api: Service, receiver: Receiver, tmp_path: Path) -> Pages:
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "api.md").write_text(RUNBOOK)
    text = _config(api, receiver, tmp_path).replace("role: responder", "role: admin")  # lead reads the audit
    (tmp_path / "opsbook.yaml").write_text(text)
    clock = FakeClock(MONDAY_0300)
    runtime = make_runtime(sqlite_engine, clock, text)
    with runtime.sessions.begin() as session:
        passwords.set_password(session, "lead", PASSWORD, clock.now())
    pipeline = Pipeline(runtime)
    web = create_app(runtime, pipeline)
    mount_ui(web, runtime)
    runs = 0

    async def interval() -> None:
        nonlocal runs
        runs += 1
        await clock.advance(timedelta(seconds=30))
        await eventually(lambda: pipeline.scheduler.stats.finished >= runs, f"{runs} check runs")
        await pipeline.writer.flush()
        await pipeline.notifier.run_once()

    async with serving(web) as base, httpx.AsyncClient(base_url=base) as http:
        await eventually(lambda: pipeline.scheduler.stats.finished >= 1, "the first run")
        runs = 1
        api.status = 500
        for _ in range(3):
            await interval()
        opened = clock.now()
        while clock.now() < opened + timedelta(minutes=10):  # nobody acknowledges: the lead is paged
            await interval()
        await eventually(lambda: bool(receiver.bodies("/lead")), "the lead's page")
        link = re.search(r"/ack/[\w.\-]+", receiver.bodies("/lead")[0]["message"])
        assert link is not None
        html = {"ack": (await http.get(link.group(0))).text}
        assert (await http.post(link.group(0))).status_code == 200
        lead = Principal("lead", Role.RESPONDER)
        run = start_run(runtime, lead, find_procedure(runtime, "API Not Responding"), incident_id=1,
                        reason="API /health answers 500")
        for step in run.steps:
            await take_step(runtime, lead, run.run.id, step.position, "run")
        api.status = 200
        for _ in range(4):
            await interval()
        service.resolve_incident(runtime, lead, 1, message="API restarted")
        await pipeline.notifier.run_once()

        login = await http.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', login.text)
        assert csrf is not None
        signed_in = await http.post("/login", data={"username": "lead", "password": PASSWORD,
                                                     "csrf_token": csrf.group(1)})
        assert signed_in.status_code in (200, 303)
        for path in ("/ui/incidents/1", "/ui/alerts", "/ui/oplog", "/ui/audit", "/ui/runbooks/runs/1",
                     "/ui/checks/api/health", "/ui/incidents?state=all", "/ui/runbooks"):
            answer = await http.get(path, follow_redirects=True)
            assert answer.status_code == 200, path
            html[path] = answer.text
        api_incident = (await http.get("/api/v1/incidents/1")).json()  # the signed-in browser's session
    messages = [str(r["json"]["message"]) for r in receiver.requests if r["json"]]
    return Pages(html, messages, api_incident, tmp_path / "opsbook.yaml")


def _cli(config: Path, *args: str) -> tuple[int, str]:
    env = {"COLUMNS": "200", "OPSBOOK_USER": "lead"}
    result = CliRunner().invoke(cli, [*args, "-c", str(config)], env=env)
    return result.exit_code, result.output


async def test_people_read_the_teams_time_zone_and_the_api_speaks_utc(pages: Pages) -> None:
    incident = _text(pages.html["/ui/incidents/1"])
    assert "Opened 2026-03-09 04:01 CET" in incident  # 03:01 UTC
    assert "2026-03-09 04:01:30 CET Opened Incident opened" in incident  # the timeline
    assert "04:11:30 CET · level 2 → lead" in incident  # the escalation card
    assert "UTC" not in incident
    assert "2026-03-09 04:01 CET" in _text(pages.html["/ui/alerts"])
    assert "2026-03-09 04:11 CET" in _text(pages.html["/ui/oplog"])
    assert "2026-03-09 04:11:30 CET" in _text(pages.html["/ui/audit"])
    assert "Started 2026-03-09 04:11:30 CET" in _text(pages.html["/ui/runbooks/runs/1"])
    assert "Opened 2026-03-09 04:01 CET" in _text(pages.html["ack"])
    axis = re.findall(r'text-anchor="end">([^<]*)</text>', pages.html["/ui/checks/api/health"])
    assert axis and axis[-1].endswith(" CET")  # the chart's last time label carries the zone
    for path, html in pages.html.items():
        assert " UTC" not in _text(html), path
    assert any("Since:    2026-03-09 04:01:30 CET" in m for m in pages.messages)
    assert any("Value:    3 (threshold 3)" in m for m in pages.messages)  # not 3.0
    assert any("(after 10 min 30 s)" in m for m in pages.messages)  # the resolved message
    # the API: ISO 8601 in UTC
    assert str(pages.api_incident["opened_at"]).startswith("2026-03-09T03:01:30")
    assert str(pages.api_incident["opened_at"]).endswith(("Z", "+00:00"))


async def test_numbers_count_from_one_and_labels_are_words(pages: Pages) -> None:
    incident = _text(pages.html["/ui/incidents/1"])
    assert "Escalation level 1: paged ana" in incident and "level 1 → ana" in incident
    assert "level 0" not in incident
    for label in ("Opened", "Paged", "Alert joined", "Acknowledged", "Runbook run", "Alert resolved",
                  "All alerts resolved", "Resolved"):
        assert f'">{label}</span>' in pages.html["/ui/incidents/1"], label
    for identifier in ("all_alerts_resolved", "alert_joined", "alert_resolved"):
        assert f">{identifier}<" not in pages.html["/ui/incidents/1"]
    assert "api · health · rule api-down" in incident and "healthrule" not in incident
    assert "api · health · rule api-down" in _text(pages.html["/ui/alerts"])
    run = _text(pages.html["/ui/runbooks/runs/1"])
    assert "1. Check the health endpoint" in run and "2. Restart the API" in run
    assert "1. 1." not in run and "0. " not in run
    assert any("  1. Check the health endpoint" in m for m in pages.messages)  # the runbook's first steps
    assert not any("1. 1." in m for m in pages.messages)
    for path in ("/ui/oplog", "/ui/incidents/1"):
        assert not re.search(r"run #1\W+run #1", _text(pages.html[path])), path


async def test_the_cli_reads_the_same_times_and_words(pages: Pages) -> None:
    code, out = _cli(pages.config, "incident", "show", "1")
    assert code == 0, out
    assert "Opened 2026-03-09 04:01 CET" in out
    assert "2026-03-09 04:12 CET  All alerts resolved" in out and "all_alerts_resolved" not in out
    code, out = _cli(pages.config, "oplog", "list")
    assert code == 0 and "2026-03-09 04:11 CET" in out and "UTC" not in out, out
    code, out = _cli(pages.config, "runbook", "runs")
    assert code == 0 and "2026-03-09 04:11 CET" in out and "UTC" not in out, out
    code, out = _cli(pages.config, "audit", "list")
    assert code == 0 and "2026-03-09 04:11:30 CET" in out and "UTC" not in out, out
    code, out = _cli(pages.config, "alert", "list")
    assert code == 0 and "2026-03-09 04:12 CET" in out, out
    code, out = _cli(pages.config, "oplog", "export")
    assert code == 0 and "Date/Time: 2026-03-09 04:11 CET" in out, out


async def test_one_time_parser_for_every_surface(pages: Pages) -> None:
    code, out = _cli(pages.config, "maintenance", "add", "--service", "api", "--title", "DB upgrade",
                     "--start", "now", "--duration", "90 minutes")
    assert code == 0, out
    code, out = _cli(pages.config, "maintenance", "add", "--service", "api", "--title", "Summer work",
                     "--start", "2099-07-01 02:00", "--duration", "2h")
    assert code == 0 and "2099-07-01 02:00 CEST to 2099-07-01 04:00 CEST" in out, out  # wall clock, summer
    code, out = _cli(pages.config, "maintenance", "add", "--service", "api", "--title", "x",
                     "--start", "soonish", "--duration", "2h")
    assert code == 2 and "--start: 'soonish' is not a time; use e.g. now, +2h" in out, out
    code, out = _cli(pages.config, "maintenance", "add", "--service", "api", "--title", "x",
                     "--start", "+1h", "--duration", "a while")
    assert code == 2 and "'a while' is not a length of time; use e.g. 2h, 90m" in out, out
