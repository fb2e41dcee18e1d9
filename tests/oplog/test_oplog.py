"""Operations log entries added by hand, listed per incident (oldest first for timelines), exported as
Markdown in the runbooks' template; the use case that records work (audit row, event, refusals); and
`opsbook oplog add|list|export` end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import sessionmaker

from opsbook.auth.models import AuditRow
from opsbook.auth.roles import Principal, Role
from opsbook.clock import FakeClock
from opsbook.errors import Forbidden, Invalid
from opsbook.events import DomainEvent, Event, Topic
from opsbook.oplog import service
from opsbook.oplog.markdown import export_markdown, human_duration
from opsbook.oplog.models import OplogEntryRow
from tests.support import make_runtime

OPSBOOK = str(Path(sys.executable).parent / "opsbook")
T0 = datetime(2025, 11, 19, 14, 30, tzinfo=UTC)


def test_entries_for_incident_and_export(engine: Engine) -> None:
    sessions = sessionmaker(engine)
    with sessions.begin() as session:
        service.add_entry(
            session,
            now=T0,
            ts=T0 + timedelta(minutes=5),
            operation="Restarted API",
            operator="bob",
            incident_id=7,
            duration_s=125,
            reason="p95 over 2s",
            impact="errors stopped",
        )
        service.add_entry(
            session, now=T0, ts=T0, operation="Scaled web to 10", operator="ann", incident_id="7"
        )
        service.add_entry(session, now=T0, operation="Unrelated", operator="ann")
    with sessions() as session:
        timeline = service.entries_for_incident(session, 7)
        assert [e.operation for e in timeline] == ["Scaled web to 10", "Restarted API"]
        assert [e.operation for e in service.list_entries(session, incident_id="7")] == [
            "Restarted API",
            "Scaled web to 10",
        ]
        text = export_markdown(timeline)
    assert "Date/Time: 2025-11-19 14:35 UTC\nOperation: Restarted API\nReason: p95 over 2s\n" in text
    assert "Impact: errors stopped\nDuration: 2 min 5 s\nIssues: None\nFollow-up: None" in text
    assert "- **Operator:** ann" in text and "- **Incident:** 7" in text
    assert human_duration(3720) == "1 h 2 min" and human_duration(0.25) == "0.2 s"


def test_work_is_logged_with_its_audit_row_and_event(engine: Engine) -> None:
    runtime = make_runtime(engine, FakeClock(T0), "")
    seen: list[Event] = []
    runtime.bus.subscribe(Topic.OPLOG, seen.append)
    rick = Principal("rick", Role.RESPONDER, "10.0.0.5")
    row = service.log_operation(
        runtime, rick, operation=" Rotated keys ", duration_s=60, incident_id="9",
        at=datetime(2025, 11, 19, 14, 0),  # no offset: UTC
    )
    assert (row.operation, row.operator, row.ts, row.created_at) == (
        "Rotated keys", "rick", datetime(2025, 11, 19, 14, 0, tzinfo=UTC), T0
    )
    events = [(e.action, e.subject) for e in seen if isinstance(e, DomainEvent)]
    assert events == [("added", f"oplog:{row.id}")]
    with pytest.raises(Forbidden):
        service.log_operation(runtime, Principal("vera", Role.VIEWER), operation="Looked around")
    with pytest.raises(Invalid, match="empty"):
        service.log_operation(runtime, rick, operation="  ")
    with pytest.raises(Invalid, match="negative"):
        service.log_operation(runtime, rick, operation="Time travel", duration_s=-5)
    assert len(seen) == 1
    with runtime.sessions() as session:
        assert len(session.scalars(select(OplogEntryRow)).all()) == 1
        (audit,) = session.scalars(select(AuditRow)).all()
    assert (audit.actor, audit.source, audit.action, audit.target, audit.detail) == (
        "rick", "10.0.0.5", "oplog.add", f"oplog:{row.id}", {"incident_id": "9"}
    )


def test_cli_add_list_export(tmp_path: Path) -> None:
    config = tmp_path / "opsbook.yaml"
    config.write_text("title: test\n")
    env = {
        **os.environ,
        "OPSBOOK_CONFIG": str(config),
        "OPSBOOK_DATABASE_URL": f"sqlite:///{tmp_path}/o.db",
        "NO_COLOR": "1",
        "COLUMNS": "200",
    }
    added = subprocess.run(
        [
            OPSBOOK,
            "oplog",
            "add",
            "--operation",
            "Rotated DB password",
            "--reason",
            "quarterly",
            "--duration",
            "15m",
            "--incident",
            "INC-3",
            "--as",
            "carol",
            "--at",
            "2026-01-05T09:00:00+00:00",
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert added.returncode == 0, added.stderr
    listed = subprocess.run([OPSBOOK, "oplog", "list"], env=env, capture_output=True, text=True, check=True)
    assert "Rotated DB password" in listed.stdout and "15 min" in listed.stdout and "INC-3" in listed.stdout
    assert "carol" in listed.stdout
    missing = subprocess.run([OPSBOOK, "oplog", "show", "99"], env=env, capture_output=True, text=True)
    assert missing.returncode == 1 and "no operations log entry 99" in missing.stderr
    out = tmp_path / "log.md"
    subprocess.run(
        [OPSBOOK, "oplog", "export", "--incident", "INC-3", "-o", str(out)],
        env=env,
        check=True,
        capture_output=True,
    )
    text = out.read_text()
    assert text.startswith("# Operation Logs: incident INC-3")
    assert "Date/Time: 2026-01-05 09:00 UTC\nOperation: Rotated DB password\nReason: quarterly\n" in text
