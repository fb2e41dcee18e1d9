"""Every link opsbook sends opens a page, and every command it suggests works as typed.

A real incident on a fake clock: the API's /health answers 500, the P1 alert fires (its firing message to
the team's channel), an incident opens and ana, on call, is paged on a webhook; nobody acknowledges and
the lead is paged by mail ten minutes later (an escalation, level 2, ana paged before); at 09:00 Berlin
ben gets his handoff brief; a channel test goes out; the API recovers and the alert's resolved message
follows. Every message is delivered to a real channel (Apprise json:// to a local receiver, and mail to
aiosmtpd), then every URL in every message is followed with a real HTTP client against the served app,
signing in where the page asks for it: each ends on an HTML page (200) with the right content, never a
404 or a JSON 401. Every `opsbook ...` command in the messages is then run as typed, in a shell, by a real
`opsbook` process on the same database: the incident is acknowledged and the runbook run for it recorded.
Twice: with the config as ./opsbook.yaml of the folder the commands run in (bare `opsbook ...`), and with
the server's config in another folder (`serve -c /elsewhere/opsbook.yaml`): then every command names it
with `-c` and works from a folder of its own, with no $OPSBOOK_CONFIG.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import Engine

from opsbook.auth import passwords
from opsbook.clock import FakeClock
from opsbook.config.loader import parse_config
from opsbook.db.engine import make_sessionmaker
from opsbook.incidents import queries
from opsbook.notify.messages import ChannelTest
from opsbook.notify.service import send
from opsbook.pipeline import Pipeline
from opsbook.runbooks.commands import shell_word
from opsbook.runbooks.service import list_runs
from opsbook.runtime import Runtime
from opsbook.web.app import create_app
from tests.e2e.conftest import Intervals, Service, api, eventually  # noqa: F401  (fixture re-used here)
from tests.notify.conftest import MailBox, Receiver, receiver, smtp  # noqa: F401  (fixtures re-used here)
from tests.support import free_port, serving

MONDAY_0850_BERLIN = datetime(2026, 3, 9, 7, 50, tzinfo=UTC)  # ben takes over at 09:00 Berlin (08:00 UTC)
PASSWORD = "a long enough password 7"
BIN = str(Path(sys.executable).parent)
RUNBOOK = """# API runbook

## API Not Responding

When the API stops answering.

### Symptoms

- Requests time out
- The load balancer answers 502

### Steps

1. Check the error dashboard for a deploy in the last hour
2. Restart the API:

   ```bash
   echo "api restarted"
   ```
"""


def config(service: Service, hook: Receiver, mail: MailBox, tmp_path: Path, port: int) -> str:
    return f"""
title: Acme
timezone: Europe/Berlin
base_url: http://127.0.0.1:{port}
database_url: sqlite:///{tmp_path}/opsbook.db
users:
  - {{name: ana, role: responder, contacts: [{{url: "{hook.url("/ana")}"}}]}}
  - {{name: ben, role: responder, contacts: [{{url: "{hook.url("/ben")}"}}]}}
  - {{name: lead, role: responder, contacts: [{{url: "{mail.url()}"}}]}}
schedules:
  - name: primary
    timezone: Europe/Berlin
    layers:
      - {{name: weekly, users: [ana, ben], turn: 1w, handoff: "monday 09:00", start: 2026-03-02}}
escalation_policies:
  - name: default
    levels:
      - {{targets: ["schedule:primary"], after: 10m}}
      - {{targets: ["user:lead"]}}
channels:
  - {{name: ops, url: "{hook.url("/ops")}"}}
grouping: {{window: 0s}}
runbooks:
  folders: ["{tmp_path / "runbooks"}"]
services:
  - name: api
    public: true
    rules:
      - {{name: api-down, check: health, when: "failures >= 3", severity: P1, runbook: "API Not Responding"}}
    checks:
      - {{name: health, kind: http, url: "{service.url}", interval: 30s, timeout: 2s, failures: 0}}
"""


@dataclass(frozen=True)
class Delivered:
    where: str
    text: str


def delivered(hook: Receiver, box: MailBox) -> list[Delivered]:
    out = [Delivered(r["path"], f"{r['json']['title']}\n{r['json']['message']}")
           for r in hook.requests if r["status"] == 200 and r["json"]]
    for mail in box.messages:
        body = mail.get_body(preferencelist=("plain", "html"))
        assert body is not None
        out.append(Delivered("mail", f"{mail['subject']}\n{body.get_content()}".replace("\r\n", "\n")))
    return out


def links(messages: list[Delivered]) -> dict[str, set[str]]:
    """Every URL in the messages, by the kind of page its path says."""
    kinds = {"/ui/alerts/": "alert", "/ui/incidents/": "incident", "/ui/procedures/": "runbook",
             "/ack/": "ack", "/ui/oncall": "on-call", "/ui/incidents": "incidents"}
    found: dict[str, set[str]] = {}
    for message in messages:
        for url in re.findall(r"https?://[^\s()<>\"']+", message.text):
            url = url.rstrip(".,;:")
            path = urlsplit(url).path
            kind = next((k for prefix, k in kinds.items() if path.startswith(prefix)), "other")
            if path in ("", "/"):
                kind = "home"
            found.setdefault(kind, set()).add(url)
    return found


async def open_page(url: str) -> httpx.Response:
    """What a person's browser shows for `url`: signed in as ana when the page sends it to /login."""
    async with httpx.AsyncClient(follow_redirects=True, timeout=30) as browser:
        page = await browser.get(url)
        if urlsplit(str(page.url)).path == "/login":
            assert page.status_code == 200 and "text/html" in page.headers["content-type"], page.text
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            after = re.search(r'name="next" value="([^"]+)"', page.text)
            assert token and after, page.text
            asked = page.history[-1].request.url  # the page that sent the browser to sign in
            assert after.group(1) == asked.raw_path.decode()  # and sign-in returns to it
            form = {"username": "ana", "password": PASSWORD, "csrf_token": token.group(1),
                    "next": after.group(1)}
            page = await browser.post(str(page.url.copy_with(query=None)), data=form)
        return page


def commands(messages: list[Delivered]) -> list[str]:
    """Every `opsbook ...` command line the messages suggest, as written (to the end of its line)."""
    found = [m.group(1).strip() for message in messages
             for m in re.finditer(r"(?m)^\s*(?:[A-Za-z ]+:\s*)?(opsbook \S.*)$", message.text)]
    return list(dict.fromkeys(found))


@pytest.mark.parametrize("config_in", ["the working directory", "another folder"])
async def test_every_link_opens_a_page_and_every_command_works_as_typed(
    sqlite_engine: Engine, api: Service, receiver: Receiver, smtp: MailBox, tmp_path: Path,  # noqa: F811
    config_in: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "api.md").write_text(RUNBOOK, encoding="utf-8")
    port = free_port()
    text = config(api, receiver, smtp, tmp_path, port)
    elsewhere = config_in == "another folder"
    config_dir = tmp_path / "etc opsbook" if elsewhere else tmp_path  # a space: the path must be quoted
    shell_dir = tmp_path / "home" if elsewhere else tmp_path  # where the responder's shell is
    config_dir.mkdir(exist_ok=True)
    shell_dir.mkdir(exist_ok=True)
    (config_dir / "opsbook.yaml").write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # where the server runs: `opsbook serve` or `serve -c "etc opsbook/…"`
    clock = FakeClock(MONDAY_0850_BERLIN)
    given = "etc opsbook/opsbook.yaml" if elsewhere else "opsbook.yaml"
    runtime = Runtime(loaded=parse_config(text, given, {}), engine=sqlite_engine,
                      sessions=make_sessionmaker(sqlite_engine), clock=clock)
    with runtime.sessions.begin() as session:
        passwords.set_password(session, "ana", PASSWORD, clock.now())
    pipeline = Pipeline(runtime)
    interval = Intervals(pipeline, clock)

    async with serving(create_app(runtime, pipeline), port=port):
        await interval.started()
        api.status = 500
        while not receiver.bodies("/ana"):  # three failures: the alert fires, the incident pages ana
            await interval.next()
        opened = clock.now()
        while clock.now() < opened + timedelta(minutes=10, seconds=30):  # nobody acknowledges
            await interval.next()
        await eventually(lambda: bool(smtp.messages), "the lead's page by mail")
        await eventually(lambda: bool(receiver.bodies("/ben")), "ben's handoff brief at 09:00 Berlin")
        with runtime.sessions.begin() as session:
            send(session, runtime.config, ChannelTest("ops", clock.now()), clock.now())
        api.status = 200
        for _ in range(2):
            await interval.next()
        await eventually(lambda: any("RESOLVED" in b["title"] for b in receiver.bodies("/ops")), "resolved")

        messages = delivered(receiver, smtp)
        escalated = next(m.text for m in messages if m.where == "mail")
        assert "ESCALATED to level 2: Incident #1" in escalated
        assert "Escalation, level 2 of 2.\nPaged before, not acknowledged: ana." in escalated
        page = next(m.text for m in messages if m.where == "/ana")
        assert "1. Check the error dashboard for a deploy in the last hour" in page  # the runbook's steps
        assert '2. Restart the API: echo "api restarted"' in page

        found = links(messages)
        assert {"alert", "incident", "runbook", "ack", "on-call", "incidents", "home"} <= set(found), found
        assert "other" not in found, found["other"]
        expected = {  # what each kind of page must show
            "alert": "<h2>Alert #1</h2>", "incident": "<h1>#1 api/health: 3 consecutive failures",
            "runbook": "echo &#34;api restarted&#34;", "ack": "Acknowledge incident",
            "on-call": "<h1>On-call</h1>", "incidents": "<h1>Incidents</h1>", "home": "<h1>Dashboard</h1>",
        }
        for kind, urls in found.items():
            for url in urls:
                shown = await open_page(url)
                assert shown.status_code == 200, (kind, url, shown.status_code, shown.text[:300])
                assert "text/html" in shown.headers["content-type"], (kind, url, shown.text[:300])
                assert expected[kind] in shown.text, (kind, url, shown.text[:2000])
        runbook_page = (await open_page(next(iter(found["runbook"])))).text
        assert "Check the error dashboard" in runbook_page and "Run 1" not in runbook_page
        incident_page = (await open_page(next(iter(found["incident"])))).text
        assert '<a href="/ui/procedures/api/api-not-responding">API Not Responding</a>' in incident_page
        assert "opsbook runbook run &#34;API Not Responding&#34; --incident 1" in incident_page
        ack_page = await open_page(next(iter(found["ack"])))
        assert 'href="/ui/incidents/1"' in ack_page.text  # the phone goes on to the incident from there
        alert_page = await open_page(next(iter(found["alert"])))
        assert 'href="/ui/procedures/api/api-not-responding"' in alert_page.text  # its runbook
        assert 'href="/ui/incidents/1"' in alert_page.text  # and its incident
        earlier = await open_page(f"http://127.0.0.1:{port}/alerts/1")  # the link older versions sent
        assert (earlier.status_code, earlier.url.path) == (200, "/ui/alerts/1")

        suggested = commands(messages)
        named = f" -c {shell_word(str(config_dir / 'opsbook.yaml'))}" if elsewhere else ""
        assert f'opsbook runbook run "API Not Responding" --incident 1{named}' in suggested, suggested
        assert f"opsbook incident ack 1{named}" in suggested, suggested
        assert all(line.endswith(named) for line in suggested), suggested
        env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "OPSBOOK_USER": "ana",
               "COLUMNS": "100"}
        env.pop("OPSBOOK_CONFIG", None)
        env.pop("OPSBOOK_DATABASE_URL", None)
        for line in suggested:
            done = subprocess.run(["bash", "-c", line], cwd=shell_dir, env=env, input="\n" * 20, text=True,
                                  capture_output=True, timeout=120)
            assert done.returncode == 0, (line, done.stdout, done.stderr)
        with runtime.sessions() as session:
            incident = queries.get_incident(session, 1)
            (run,) = list_runs(session, incident_id="1")
        assert incident.acknowledged_by == "ana"
        assert (run.procedure_title, run.status, run.operator) == ("API Not Responding", "succeeded", "ana")
        runbook_page = (await open_page(next(iter(found["runbook"])))).text
        assert f'href="/ui/runbooks/runs/{run.id}"' in runbook_page  # the run is in the procedure's history
