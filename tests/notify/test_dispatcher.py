"""The alert dispatcher on both databases: a firing alert's message carries its runbook's first steps as the
runbook file says them now (an edit while opsbook runs reaches the next message)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from opsbook.alerts.dispatch import Dispatcher
from opsbook.alerts.types import AlertTransition, TransitionKind
from opsbook.clock import FakeClock
from opsbook.config.loader import parse_config
from opsbook.notify.models import OutboxRow
from opsbook.rules.severity import Severity

RUNBOOK = """# API runbook

### API Not Responding

1. Check the health endpoint
2. {second}
3. Page the database owner
"""
CONFIG = """\
timezone: UTC
base_url: "http://opsbook.test"
channels:
  - {name: ops, url: "json://127.0.0.1:9/ops"}
runbooks:
  folders: [runbooks]
"""


def fired(alert_id: int, clock: FakeClock) -> AlertTransition:
    now = clock.now()
    return AlertTransition(
        TransitionKind.FIRED, alert_id, f"api/health:{alert_id}", "rule", "api", "api/health", "api-down",
        Severity.P1, "api is down", "API Not Responding", {}, None, None, "failures >= 3", "3 failures", now,
        now,
    )


def bodies(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as s:
        return list(s.scalars(select(OutboxRow.body).order_by(OutboxRow.id)))


def test_a_runbook_edit_reaches_the_next_firing_message_without_a_restart(
    sessions: sessionmaker[Session], clock: FakeClock, tmp_path: Path
) -> None:
    (tmp_path / "runbooks").mkdir()
    runbook = tmp_path / "runbooks" / "api.md"
    runbook.write_text(RUNBOOK.format(second="Restart the API"))
    dispatcher = Dispatcher(parse_config(CONFIG, "opsbook.yaml", {}).config, str(tmp_path))
    with sessions.begin() as s:
        dispatcher(s, [fired(1, clock)], clock.now())
    [first] = bodies(sessions)
    assert "Runbook:  API Not Responding" in first and "2. Restart the API" in first

    runbook.write_text(RUNBOOK.format(second="Restart the API with systemctl"))
    with sessions.begin() as s:
        dispatcher(s, [fired(2, clock)], clock.now() + timedelta(minutes=5))
    [_, second] = bodies(sessions)
    assert "2. Restart the API with systemctl" in second


def test_a_runbook_that_is_not_found_is_named_without_steps(
    sessions: sessionmaker[Session], clock: FakeClock, tmp_path: Path
) -> None:
    dispatcher = Dispatcher(parse_config(CONFIG, "opsbook.yaml", {}).config, str(tmp_path))
    with sessions.begin() as s:
        dispatcher(s, [fired(1, clock)], clock.now())
    [body] = bodies(sessions)
    assert "Runbook:  API Not Responding\n" in body + "\n" and "1." not in body
