"""The SLOs where people read them: `opsbook slo`, `slo show` and `report sla` as real processes at 80
columns; the API over a real HTTP server (viewer token; 401 without, 404 for a service without an SLO, 400
for a bad month); the pages /ui/slo and /ui/slo/api with the budget chart, and the status page's uptime
against the target. The history: api up for 40 days, down 21.6 minutes ten days ago (eleven when those
minutes would straddle a month's end in the team's zone; half its 30-day budget at 99.9 %), web (99.99 %)
down 10 minutes an hour ago (its budget overspent, the fast burn quiet again)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from opsbook.auth.roles import Role
from opsbook.auth.tokens import create_token
from opsbook.checks.models import StateChangeRow
from opsbook.clock import FakeClock
from opsbook.statuspage.build import build_snapshot
from opsbook.web.app import create_app
from tests.support import make_runtime, serving

OPSBOOK = str(Path(sys.executable).parent / "opsbook")
CONFIG = """
timezone: Europe/Berlin
services:
  - name: api
    public: true
    checks: [{name: health, kind: tcp, host: 127.0.0.1, port: 1, interval: 30s}]
  - name: web
    public: true
    checks: [{name: home, kind: tcp, host: 127.0.0.1, port: 1, interval: 30s}]
slos:
  - {service: api, availability: 99.9%}
  - {service: web, availability: 99.99%, window: 7d}
"""


TEAM_ZONE = ZoneInfo("Europe/Berlin")
API_DOWN = timedelta(minutes=21.6)


def month_of(at: datetime) -> str:
    """`YYYY-MM` of `at` in the team's zone (the SLA report's months)."""
    return at.astimezone(TEAM_ZONE).strftime("%Y-%m")


def api_outage(now: datetime) -> datetime:
    """When api went down: ten days before `now`, or eleven if its 21.6 minutes would cross a month's end in
    the team's zone (one month's SLA report then holds them whole, whatever the real clock says)."""
    start = now - timedelta(days=10)
    return start if month_of(start) == month_of(start + API_DOWN) else start - timedelta(days=1)


def history(engine: Engine, now: datetime) -> None:
    down = api_outage(now)
    changes = [
        ("api/health", now - timedelta(days=40), "up"),
        ("api/health", down, "down"),
        ("api/health", down + API_DOWN, "up"),
        ("web/home", now - timedelta(days=40), "up"),
        ("web/home", now - timedelta(minutes=70), "down"),
        ("web/home", now - timedelta(minutes=60), "up"),
    ]
    with Session(engine) as s, s.begin():
        for check, ts, status in changes:
            s.add(StateChangeRow(check_id=check, ts=ts, from_status=None, to_status=status, message=""))


def test_the_cli_at_80_columns(sqlite_engine: Engine, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    history(sqlite_engine, now)  # the command reads the real clock
    (tmp_path / "opsbook.yaml").write_text(CONFIG)
    env = {
        **os.environ,
        "OPSBOOK_CONFIG": str(tmp_path / "opsbook.yaml"),
        "COLUMNS": "80",
        "NO_COLOR": "1",
        "OPSBOOK_DATABASE_URL": str(sqlite_engine.url),
    }

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [OPSBOOK, *args], env=env, capture_output=True, text=True, timeout=60, check=False
        )

    listed = cli("slo")
    assert listed.returncode == 0, listed.stderr
    assert max(len(line) for line in listed.stdout.splitlines()) <= 80
    api = next(line for line in listed.stdout.splitlines() if "api" in line)
    assert "99.9% up over 30d" in api and "99.95%" in api and "50.0%" in api and "0.00× 1h" in api
    web = next(line for line in listed.stdout.splitlines() if " web " in line)
    assert "99.99% up over 1w" in web and "-" in web.split("│")[4]  # 10 min of 1.008 allowed: overspent
    shown = cli("slo", "show", "api")
    assert shown.returncode == 0, shown.stderr
    assert max(len(line) for line in shown.stdout.splitlines()) <= 80
    assert "down 21.60 min of 43.20 allowed in the window" in shown.stdout
    assert "fast 14.4× P1" in shown.stdout and "quiet" in shown.stdout
    missing = cli("slo", "show", "db")
    assert missing.returncode != 0 and "has no SLO" in missing.stderr
    month = month_of(api_outage(now))  # the month of the team's zone that holds the outage
    csv = cli("report", "sla", "--month", month, "--format", "csv")
    assert csv.returncode == 0, csv.stderr
    assert csv.stdout.startswith("service,target_percent,uptime_percent,uptime,downtime_minutes,")
    assert "api,99.9," in csv.stdout and ",21.60,0.00,0," in csv.stdout
    bad = cli("report", "sla", "--month", "11/2026")
    assert bad.returncode != 0 and "YYYY-MM" in bad.stderr


async def test_the_api_the_pages_and_the_status_page(engine: Engine) -> None:
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    history(engine, now)
    clock = FakeClock(now)
    runtime = make_runtime(engine, clock, CONFIG)
    with runtime.sessions.begin() as s:
        token = create_token(s, "vic", Role.VIEWER, now)
    async with (
        serving(create_app(runtime, run_pipeline=False)) as base,
        httpx.AsyncClient(base_url=base) as http,
    ):
        auth = {"Authorization": f"Bearer {token}"}
        assert (await http.get("/api/v1/slos")).status_code == 401
        listed = (await http.get("/api/v1/slos", headers=auth)).json()
        assert [s["service"] for s in listed] == ["api", "web"]
        [objective] = listed[0]["objectives"]
        assert objective["kind"] == "availability" and objective["target_percent"] == 99.9
        assert objective["budget_left"] == 0.5 and objective["down_seconds"] == 1296.0
        assert objective["allowed_down_seconds"] == 2592.0
        one = (await http.get("/api/v1/slos/web", headers=auth)).json()
        assert len(one["budget_chart"]) == 61 and one["budget_chart"][-1][1] < 0  # overspent now
        assert [b["name"] for b in one["burn_alerts"]] == ["fast", "slow", "steady"]
        assert (await http.get("/api/v1/slos/nope", headers=auth)).status_code == 404
        report = await http.get(
            "/api/v1/reports/sla", params={"month": "2026-11", "format": "csv"}, headers=auth
        )
        assert report.status_code == 200 and report.headers["content-type"].startswith("text/csv")
        assert 'filename="sla-2026-11.csv"' in report.headers["content-disposition"]
        assert "web,99.99," in report.text
        assert (
            await http.get("/api/v1/reports/sla", params={"month": "2026-13"}, headers=auth)
        ).status_code == 400
    with runtime.sessions() as session:
        snapshot = build_snapshot(session, runtime.config, now)
    objectives = {s.name: s.objective for s in snapshot.services}
    assert objectives["api"] is not None and objectives["web"] is not None
    assert (objectives["api"].window, objectives["api"].uptime_text, objectives["api"].target) == (
        "30 days",
        "99.95%",
        "99.9%",
    )
    assert objectives["api"].met is True and objectives["web"].met is False
