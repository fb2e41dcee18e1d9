"""Heartbeats as a healthchecks.io user expects, through the real app over HTTP on the fake clock: a `/fail`,
a non-zero exit code or a missed ping alerts on the first signal (whatever `alerting.default_failures`
says), `failures:` on the check still waits for more, and `/log` keeps a message that changes nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from opsbook.alerts.models import AlertRow
from opsbook.auth.roles import Role
from opsbook.auth.tokens import create_token
from opsbook.checks import store
from opsbook.checks.heartbeat_watch import KEEP_PINGS, keep_log, ping_record
from opsbook.checks.models import PingRow, StateChangeRow
from opsbook.clock import FakeClock
from opsbook.db.engine import make_engine
from opsbook.db.migrate import upgrade
from opsbook.pipeline import Pipeline
from opsbook.runtime import Runtime
from opsbook.web.app import create_app
from tests.support import make_runtime, serving
from tests.web_ui.test_pages import sign_in
from tests.web_ui.ui_support import CONFIG as UI_CONFIG
from tests.web_ui.ui_support import runtime_for, ui_app

OPSBOOK = str(Path(sys.executable).parent / "opsbook")
CONFIG = """
alerting: {default_failures: 3}
services:
  - name: jobs
    checks:
      - {name: backup, kind: heartbeat, period: 1h, grace: 5m, token: backup-token-0123456789}
      - {name: report, kind: heartbeat, period: 1h, grace: 5m, token: report-token-0123456789}
      - {name: export, kind: heartbeat, period: 1h, grace: 5m, token: export-token-0123456789}
      - {name: patient, kind: heartbeat, period: 1h, grace: 5m, failures: 3, token: patient-token-012345678}
"""


def firing(engine: Engine) -> list[str]:
    with Session(engine) as s:
        return sorted(str(c) for c in s.scalars(select(AlertRow.check_id).where(AlertRow.state == "firing")))


async def test_fail_exit_code_and_missed_ping_alert_on_the_first_signal(sqlite_engine: Engine) -> None:
    clock = FakeClock(datetime(2026, 3, 2, 12, 0, tzinfo=UTC))
    runtime = make_runtime(sqlite_engine, clock, CONFIG)
    pipeline = Pipeline(runtime)
    async with serving(create_app(runtime, pipeline)) as base, httpx.AsyncClient(base_url=base) as http:
        assert (await http.post("/ping/backup-token-0123456789/fail", content="disk full")).json() == {
            "status": "failed"}
        assert (await http.get("/ping/report-token-0123456789/2")).json() == {"status": "failed"}
        assert (await http.get("/ping/patient-token-012345678/fail")).json() == {"status": "failed"}
        await pipeline.writer.flush()
        assert firing(sqlite_engine) == ["jobs/backup", "jobs/report"]  # one signal each; patient waits

        await clock.advance(timedelta(hours=1, minutes=5))  # export's ping is due at 13:00, grace 5 min
        await pipeline.writer.flush()
        assert "jobs/export" in firing(sqlite_engine)  # the first missed ping alerts
        assert (await http.get("/ping/report-token-0123456789/256")).status_code == 404
    spec = runtime.config.checks()["jobs/backup"]
    assert spec.failures == 1 and runtime.config.checks()["jobs/patient"].failures == 3


async def test_log_keeps_a_message_and_changes_nothing(sqlite_engine: Engine) -> None:
    clock = FakeClock(datetime(2026, 3, 2, 12, 0, tzinfo=UTC))
    runtime = make_runtime(sqlite_engine, clock, CONFIG)
    pipeline = Pipeline(runtime)
    app = create_app(runtime, pipeline)
    async with serving(app) as base, httpx.AsyncClient(base_url=base) as http:
        assert (await http.get("/ping/backup-token-0123456789")).json() == {"status": "ok"}  # due 13:00
        await pipeline.writer.flush()
        await clock.advance(timedelta(minutes=30))
        logged = await http.post("/ping/backup-token-0123456789/log", content="copied 3 of 7 volumes")
        assert logged.json() == {"status": "logged"}
        await clock.advance(timedelta(minutes=34, seconds=59))  # 13:04:59: the log moved no deadline
        await pipeline.writer.flush()
        with Session(sqlite_engine) as s:
            statuses = [r.status for r in store.results(s, "jobs/backup", clock.now() - timedelta(days=1),
                                                        clock.now() + timedelta(seconds=1))]
            changes = s.scalar(select(func.count()).select_from(StateChangeRow)
                               .where(StateChangeRow.check_id == "jobs/backup"))
        assert statuses == ["up"] and changes == 1  # no result and no state change from the log
        await clock.advance(timedelta(seconds=1))
        await pipeline.writer.flush()
        assert "jobs/backup" in firing(sqlite_engine)  # missed at 13:05 as if no log had come

        token = {"Authorization": f"Bearer {_viewer_token(runtime)}"}
        log = (await http.get("/api/v1/checks/jobs/backup/pings", headers=token)).json()
        assert [(p["kind"], p["message"]) for p in log] == [("log", "copied 3 of 7 volumes"), ("success", "")]
        not_push = await http.get("/api/v1/checks/jobs/nope/pings", headers=token)
        assert not_push.status_code == 404


def _viewer_token(runtime: Runtime) -> str:
    with runtime.sessions.begin() as s:
        return create_token(s, "wall", Role.VIEWER, runtime.clock.now())


def test_the_ping_log_keeps_the_newest(engine: Engine) -> None:
    start = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    with Session(engine) as s, s.begin():
        for n in range(KEEP_PINGS + 5):
            keep_log(s, ping_record("jobs/backup", start + timedelta(minutes=n), str(n % 3), f"run {n}"))
        keep_log(s, ping_record("jobs/other", start, "log", "kept\x00 despite a NUL"))  # PostgreSQL takes it
    with Session(engine) as s:
        kept = list(s.scalars(select(PingRow).where(PingRow.check_id == "jobs/backup").order_by(PingRow.id)))
        other = s.scalar(select(func.count()).select_from(PingRow).where(PingRow.check_id == "jobs/other"))
    assert len(kept) == KEEP_PINGS
    assert (kept[0].message, kept[-1].message) == ("run 5", f"run {KEEP_PINGS + 4}")
    assert {(p.kind, p.exit_code) for p in kept} == {("success", 0), ("exit", 1), ("exit", 2)}
    assert other == 1
    with Session(engine) as s:
        message = s.scalar(select(PingRow.message).where(PingRow.check_id == "jobs/other"))
    assert message == "kept despite a NUL"


def test_the_check_page_shows_a_heartbeats_pings(sqlite_engine: Engine, clock: FakeClock) -> None:
    heartbeat = "  - name: jobs\n    checks:\n      - {name: backup, kind: heartbeat, period: 1h}\nusers:\n"
    runtime = runtime_for(sqlite_engine, clock, UI_CONFIG.replace("users:\n", heartbeat, 1))
    with Session(sqlite_engine) as s, s.begin():
        keep_log(s, ping_record("jobs/backup", clock.now(), "log", "copied 3 of 7 volumes"))
        keep_log(s, ping_record("jobs/backup", clock.now(), "3", "rsync failed"))
    vera, _ = sign_in(ui_app(runtime), "vera")
    page = vera.get("/ui/checks/jobs/backup").text
    pings = page.split('id="pings"', 1)[1].split("</table>", 1)[0]
    assert "copied 3 of 7 volumes" in pings and "exit code 3" in pings and "rsync failed" in pings
    assert 'id="pings"' not in vera.get("/ui/checks/api/health").text  # a probed check gets no pings


def test_check_pings_lists_the_ping_log_at_80_columns(tmp_path: Path) -> None:
    config = tmp_path / "opsbook.yaml"
    config.write_text("timezone: Europe/Berlin\n" + CONFIG)
    engine = make_engine(f"sqlite:///{tmp_path}/var/opsbook.db")
    upgrade(engine)
    at = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    with Session(engine) as s, s.begin():
        keep_log(s, ping_record("jobs/backup", at, "start", ""))
        note = "copied 3 of 7 volumes " * 5  # longer than the column: wrapped
        keep_log(s, ping_record("jobs/backup", at + timedelta(minutes=1), "log", note))
        keep_log(s, ping_record("jobs/backup", at + timedelta(minutes=2), "3", "rsync failed"))
    engine.dispose()
    env = {**os.environ, "COLUMNS": "80"}
    done = subprocess.run([OPSBOOK, "check", "pings", "backup", "-c", str(config)], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert max(map(len, done.stdout.splitlines())) <= 80
    assert "2026-03-02 13:02:00 CET" in done.stdout and "exit code 3" in done.stdout
    assert "rsync failed" in done.stdout and "copied 3 of 7 volumes" in done.stdout
    assert done.stdout.index("exit code 3") < done.stdout.index("start")  # newest first
    probed = subprocess.run([OPSBOOK, "check", "pings", "jobs/report", "-c", str(config)], env=env,
                            capture_output=True, text=True, timeout=60)
    assert probed.returncode == 0 and "no pings yet" in probed.stdout
