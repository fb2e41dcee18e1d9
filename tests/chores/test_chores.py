"""Recurring chores on the fake clock, against the real database, runbook runs (real subprocesses) and
the alert machinery: due at the schedule's instant in its zone, the on-call then told (routed like a P4),
done by a run of the procedure with its checklist checked, overdue after its time (a P3 alert, resolved
when done by hand), skipped with a reason; the config's mistakes named."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from opsbook.alerts.models import AlertRow
from opsbook.auth.roles import Principal, Role
from opsbook.chores import service
from opsbook.chores.models import ChoreDueRow
from opsbook.chores.schedule import last_due, next_due
from opsbook.clock import FakeClock
from opsbook.config.loader import ConfigError
from opsbook.errors import Conflict, Invalid
from opsbook.notify.models import OutboxRow
from opsbook.oplog.models import OplogEntryRow
from opsbook.runbooks import service as runs
from opsbook.runtime import Runtime
from tests.support import make_runtime

START = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)  # a Monday, 07:00 in Berlin
ANA = Principal("ana", Role.RESPONDER, "test")
RUNBOOK = """# Chores

## Rotate database passwords

```bash
# Rotate
echo rotated
```

- [ ] The apps reconnected
"""


def config(folder: Path) -> str:
    return f"""
timezone: Europe/Berlin
users:
  - name: ana
    contacts:
      - {{url: "json://127.0.0.1:9/ana-phone", urgency: [P1, P2]}}
      - {{url: "json://127.0.0.1:9/ana-chat", urgency: [P3, P4]}}
  - {{name: ben, contacts: [{{url: "json://127.0.0.1:9/ben"}}]}}
schedules:
  - name: primary
    timezone: Europe/Berlin
    layers:
      - {{name: weekly, users: [ben, ana], turn: 1w, handoff: "monday 09:00", start: 2026-02-23}}
runbooks: {{folders: ["{folder}"]}}
chores:
  - name: rotate-db-passwords
    procedure: Rotate database passwords
    schedule: "0 10 * * 1"
    oncall: primary
    within: 1d
"""


@pytest.fixture
def runtime(sqlite_engine: Engine, tmp_path: Path) -> Runtime:
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "chores.md").write_text(RUNBOOK)
    return make_runtime(sqlite_engine, FakeClock(START), config(tmp_path / "runbooks"))


def _sync(runtime: Runtime) -> datetime | None:
    return service.sync(runtime, service.alert_hooks(runtime))


def _clock(runtime: Runtime) -> FakeClock:
    assert isinstance(runtime.clock, FakeClock)
    return runtime.clock


async def _to(runtime: Runtime, at: datetime) -> None:
    await _clock(runtime).advance_to(at)


def _rows(engine: Engine) -> list[ChoreDueRow]:
    with Session(engine) as s:
        return list(s.scalars(select(ChoreDueRow).order_by(ChoreDueRow.id)))


def _told(engine: Engine) -> list[OutboxRow]:
    with Session(engine) as s:
        return list(s.scalars(select(OutboxRow).where(OutboxRow.kind == "chore").order_by(OutboxRow.id)))


def _alerts(engine: Engine) -> list[AlertRow]:
    with Session(engine) as s:
        return list(s.scalars(select(AlertRow).where(AlertRow.check_id == "chores/rotate-db-passwords")))


def _oplog(engine: Engine) -> list[OplogEntryRow]:
    with Session(engine) as s:
        return list(s.scalars(select(OplogEntryRow).where(OplogEntryRow.operation.like("Chore %"))))


def test_schedule_instants_in_the_zone() -> None:
    now = datetime(2026, 3, 30, 8, 30, tzinfo=UTC)  # Monday 10:30 in Berlin (summer time since Sunday)
    assert last_due("0 10 * * 1", "Europe/Berlin", now) == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)
    assert last_due("0 10 * * 1", "Europe/Berlin", datetime(2026, 3, 30, 8, 0, tzinfo=UTC)) == datetime(
        2026, 3, 30, 8, 0, tzinfo=UTC)  # at the instant itself
    assert last_due("0 10 * * 1", "Europe/Berlin", datetime(2026, 3, 30, 7, 59, 59, 500000, tzinfo=UTC)) == (
        datetime(2026, 3, 23, 9, 0, tzinfo=UTC))  # winter time the week before
    assert next_due("0 10 * * 1", "Europe/Berlin", now) == datetime(2026, 4, 6, 8, 0, tzinfo=UTC)


async def test_due_reminded_done_by_a_run(runtime: Runtime, sqlite_engine: Engine) -> None:
    due_at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # Monday 10:00 Berlin
    assert _sync(runtime) == due_at  # nothing due yet: wakes when it falls due
    assert _rows(sqlite_engine) == []
    await _to(runtime, due_at)
    assert _sync(runtime) == due_at + timedelta(days=1)  # then at its deadline
    [row] = _rows(sqlite_engine)
    assert (row.status, row.assignee, row.due_at) == ("due", "ana", due_at)
    assert row.deadline == due_at + timedelta(days=1)
    [told] = _told(sqlite_engine)  # ana on call since the 09:00 Berlin handoff; her P4 contact
    assert told.channel == "contact:ana:1" and told.severity == "P4"
    assert "opsbook runbook run \"Rotate database passwords\"" in told.body
    assert f"opsbook chore done {row.id}" in told.body
    _sync(runtime)
    assert len(_told(sqlite_engine)) == 1 and len(_rows(sqlite_engine)) == 1  # once

    found = runs.find_procedure(runtime, "Rotate database passwords")
    run_id = runs.start_run(runtime, ANA, found, env={}).run.id
    await runs.take_step(runtime, ANA, run_id, 0, "run")
    await runs.take_step(runtime, ANA, run_id, 1, "not_done")  # a checklist item not checked: not done
    _sync(runtime)
    assert _rows(sqlite_engine)[0].status == "due"
    run_id = runs.start_run(runtime, ANA, found, env={}).run.id
    await runs.take_step(runtime, ANA, run_id, 0, "run")
    await runs.take_step(runtime, ANA, run_id, 1, "done")
    _sync(runtime)
    [row] = _rows(sqlite_engine)
    assert (row.status, row.run_id, row.closed_by) == ("done", run_id, "ana")
    [entry] = _oplog(sqlite_engine)
    assert entry.id == row.oplog_entry and f"runbook run #{run_id}" in entry.reason
    await _to(runtime, due_at + timedelta(days=2))
    _sync(runtime)
    assert _alerts(sqlite_engine) == []  # done in time: no overdue alert


async def test_overdue_alert_then_done_by_hand(runtime: Runtime, sqlite_engine: Engine) -> None:
    due_at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    await _to(runtime, due_at)
    _sync(runtime)
    await _to(runtime, due_at + timedelta(days=1) - timedelta(seconds=1))
    _sync(runtime)
    assert _alerts(sqlite_engine) == []
    await _to(runtime, due_at + timedelta(days=1))
    _sync(runtime)
    [alert] = _alerts(sqlite_engine)
    assert (alert.state, alert.severity, alert.service) == ("firing", "P3", "chores")
    assert "overdue" in alert.summary and "ana" in alert.summary
    assert alert.summary.endswith("was to do it by 2026-03-03 10:00 CET")  # the team's zone, named
    [row] = _rows(sqlite_engine)
    assert row.status == "overdue"
    service.mark_done(runtime, ANA, row.id, "rotated from the vault UI")
    [alert] = _alerts(sqlite_engine)
    assert alert.state == "resolved"
    [entry] = _oplog(sqlite_engine)
    assert "by hand" in entry.reason and entry.impact == "rotated from the vault UI"
    assert entry.reason.startswith("due 2026-03-02 10:00 CET;")
    with pytest.raises(Conflict, match="already done"):
        service.skip(runtime, ANA, row.id, "late")


async def test_skip_needs_a_reason_then_next_week_is_due(runtime: Runtime, sqlite_engine: Engine) -> None:
    await _to(runtime, datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    _sync(runtime)
    [row] = _rows(sqlite_engine)
    with pytest.raises(Invalid, match="why"):
        service.skip(runtime, ANA, row.id, " ")
    service.skip(runtime, ANA, row.id, "no database this week")
    await _to(runtime, datetime(2026, 3, 9, 9, 0, tzinfo=UTC))
    _sync(runtime)
    rows = _rows(sqlite_engine)
    assert [(r.status, r.assignee) for r in rows] == [("skipped", "ana"), ("due", "ben")]  # ben's week
    assert rows[0].reason == "no database this week"
    assert _oplog(sqlite_engine) == []


def test_a_first_occurrence_long_past_is_not_raised(sqlite_engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "chores.md").write_text(RUNBOOK)
    later = FakeClock(datetime(2026, 3, 5, 9, 0, tzinfo=UTC))  # Thursday: Monday's time to do it is over
    runtime = make_runtime(sqlite_engine, later, config(tmp_path / "runbooks"))
    _sync(runtime)
    assert _rows(sqlite_engine) == [] and _alerts(sqlite_engine) == []


def test_config_mistakes_are_named(tmp_path: Path) -> None:
    from opsbook.config.loader import parse_config

    text = config(tmp_path)
    with pytest.raises(ConfigError, match="unknown schedule 'nightly'"):
        parse_config(text.replace("oncall: primary", "oncall: nightly"), "opsbook.yaml", {})
    with pytest.raises(ConfigError, match="exactly one assignee"):
        parse_config(text.replace("oncall: primary", "oncall: primary\n    user: ana"), "opsbook.yaml", {})
    with pytest.raises(ConfigError, match=r"opsbook\.yaml:\d+: chores\[0\]\.schedule"):
        parse_config(text.replace('"0 10 * * 1"', '"0 25 * * 1"'), "opsbook.yaml", {})


def test_validate_names_a_chore_whose_procedure_is_missing(tmp_path: Path) -> None:
    from opsbook.config.loader import parse_config
    from opsbook.runbooks.references import reference_issues

    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "chores.md").write_text(RUNBOOK)
    text = config(tmp_path / "runbooks").replace("Rotate database passwords", "Rotate the keys")
    [issue] = reference_issues(parse_config(text, "opsbook.yaml", {}), text)
    line = text.splitlines().index("    procedure: Rotate the keys") + 1
    assert str(issue).startswith(f"opsbook.yaml:{line}: chores[0].procedure: ")
