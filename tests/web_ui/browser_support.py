"""What the browser tests share: how Debian's Chromium is launched, signing in, and the team they look at.

The team has a week of results (one check failing now, one with a long message), three open incidents
(one escalated to its second level, with a runbook run), a silence, a maintenance window, an override,
a handoff note, an operations log entry and the audit rows all of these leave, so every page has
something on it to lay out.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, ViewportSize
from sqlalchemy import Engine

from opsbook.alerts.service import AlertEngine
from opsbook.auth.roles import SYSTEM, Principal, Role
from opsbook.checks.result import CheckResult, Status, StoredResult
from opsbook.checks.rollup import roll_up
from opsbook.checks.store import write_batch
from opsbook.clock import FakeClock
from opsbook.incidents import service as incidents
from opsbook.incidents.escalation import EscalationEngine
from opsbook.oncall import service as oncall
from opsbook.oplog import service as oplog
from opsbook.runbooks import service as runbooks
from opsbook.runtime import Runtime
from opsbook.silences import service as silences
from opsbook.silences.matchers import parse_matcher
from tests.support import serving
from tests.web_ui.ui_support import CONFIG, PASSWORD, runtime_for, ui_app, write

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
DESKTOP = ViewportSize(width=1280, height=900)
PHONE = ViewportSize(width=390, height=844)

needs_chromium = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")

RICK = Principal("rick", Role.RESPONDER, "test")

RUNBOOK = """\
# API runbook

## API Not Responding

Check the process, then the load balancer.

```bash
# Check the API process
echo "api: 3 workers up, listening on :8443"

# Look at the last errors
echo "2026-01-05T09:10:41Z ERROR pool exhausted (20/20 connections in use) at /v1/orders/8c4f3a2e5b1d4e1f"
```

- [ ] Tell #incidents what you found
"""

LONG_MESSAGE = (
    "GET https://api.acme.test/v1/health?verbose=true&region=eu-central-1&trace=8c4f3a2e5b1d4e1f9f6a "
    "returned 503 after 10.0 s"
)


def team_config(runbooks_dir: Path) -> str:
    """The UI tests' team with an escalation policy (on-call, then ana after 10 minutes) and runbooks."""
    return CONFIG + f"""\
escalation_policies:
  - name: default
    levels:
      - {{targets: ["schedule:primary"], after: 10m}}
      - {{targets: ["user:ana"]}}
runbooks:
  folders: ["{runbooks_dir}"]
"""


@dataclass(frozen=True)
class Site:
    """A served opsbook with the seeded team: its URL, its runtime and the ids of what was seeded."""

    url: str
    runtime: Runtime
    api: int
    other: int
    run: int


async def seed(runtime: Runtime, clock: FakeClock) -> tuple[int, int, int]:
    """A week of history, then three incidents opened eleven minutes ago: the first level was paged at once,
    the second when its ten minutes were up; rick ran a runbook step for the API incident. Returns the ids
    of the API incident, of the login incident and of the run."""
    start = clock.now()
    checks = ("api/health", "api/login", "web/home", "secret-billing-db/replication-lag-zebra")
    write(runtime, [(check, start - timedelta(days=7), Status.UP, "ok") for check in checks])
    latencies = [  # api/login every ten minutes for a day, slower for an hour in the afternoon
        StoredResult("api/login", start - timedelta(minutes=1440 - 10 * n),
                     CheckResult(Status.UP, 40 + 15 * math.sin(n / 7) + (160 if 90 <= n < 96 else 0), "ok"))
        for n in range(142)
    ]
    with runtime.sessions.begin() as session:
        write_batch(session, latencies)
        roll_up(session, start)
    rows = [
        ("api/health", start - timedelta(days=3), Status.DOWN, "connection refused"),
        ("api/health", start - timedelta(days=3) + timedelta(minutes=40), Status.UP, "ok"),
        ("web/home", start - timedelta(days=1), Status.DEGRADED, "slow: 1.9 s"),
        ("web/home", start - timedelta(days=1) + timedelta(hours=1), Status.UP, "ok"),
        ("api/login", start - timedelta(minutes=20), Status.DEGRADED, LONG_MESSAGE),
    ]
    failing = [("api/health", "10.0.0.7:443: connection refused"),
               ("secret-billing-db/replication-lag-zebra", "ZEBRA-LEAK lag")]
    rows += [(check, start - timedelta(minutes=m), Status.DOWN, text) for m in (3, 2, 1)
             for check, text in failing]
    write(runtime, rows)
    with runtime.sessions.begin() as session:  # three failures in a row: the default rule fires
        AlertEngine(runtime.config).process(session, [check for check, *_ in rows], start)
    api = incidents.open_incident(
        runtime, SYSTEM, title="API health check failing", severity="P1", service="api",
        customer_facing=True, summary="api/health: connection refused",
    )
    other = incidents.open_incident(runtime, SYSTEM, title="Login errors", severity="P2", service="api")
    incidents.open_incident(
        runtime, SYSTEM, title="ZEBRA-LEAK ledger lag", severity="P2", service="secret-billing-db"
    )
    await clock.advance(timedelta(minutes=11))
    EscalationEngine(runtime).tick(clock.now())
    found = runbooks.find_procedure(runtime, "API Not Responding")
    run = runbooks.start_run(runtime, RICK, found, incident_id=api.id, reason="API health check failing")
    await runbooks.take_step(runtime, RICK, run.run.id, 0, "run")
    silences.add_silence(
        runtime, RICK, [parse_matcher("service=web"), parse_matcher('severity=~"P[34]"')],
        comment="deploy of web 2.14: expect restarts", duration=timedelta(hours=2),
    )
    silences.add_maintenance(
        runtime, RICK, ["web"], starts_at=start + timedelta(days=1, hours=13), duration=timedelta(hours=1),
        title="Database upgrade to PostgreSQL 17", description="Orders are read-only for up to 10 minutes.",
    )
    oncall.add_override(
        runtime, RICK, "primary", "ana", start + timedelta(days=2), start + timedelta(days=3),
        covers="rick", reason="dentist",
    )
    oncall.add_handoff_note(runtime, RICK, "primary", "The API pool limit is 40 now; watch api/health.")
    with runtime.sessions.begin() as session:
        oplog.add_entry(
            session, now=clock.now(), operator="rick", operation="Raise the API connection pool to 40",
            reason="pool exhausted (20/20 connections in use)", impact="none: rolling restart",
            duration_s=240, follow_up="size the pool from the p95 of concurrent requests", incident_id=api.id,
        )
    return api.id, other.id, run.run.id


async def sign_in(browser: Browser, url: str, user: str, viewport: ViewportSize = DESKTOP) -> Page:
    """A new browser context signed in as `user`, on the dashboard."""
    context = await browser.new_context(viewport=viewport)
    page = await context.new_page()
    await page.goto(f"{url}/ui/")
    assert "/login" in page.url  # not signed in: sent to the login page
    await page.fill("#username", user)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{url}/ui/")
    return page


@contextlib.asynccontextmanager
async def served_team(engine: Engine, clock: FakeClock, folder: Path) -> AsyncIterator[Site]:
    """The seeded team served on 127.0.0.1 (UI and status page, no pipeline)."""
    runbooks_dir = folder / "runbooks"
    runbooks_dir.mkdir()
    (runbooks_dir / "api.md").write_text(RUNBOOK)
    runtime = runtime_for(engine, clock, team_config(runbooks_dir))
    api, other, run = await seed(runtime, clock)
    async with serving(ui_app(runtime)) as url:
        yield Site(url, runtime, api, other, run)
