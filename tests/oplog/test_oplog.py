"""Operations log entries added by hand, listed per incident (oldest first for timelines), exported as
Markdown in the runbooks' template; and `opsbook oplog add|list|export` end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from opsbook.oplog import service
from opsbook.oplog.markdown import export_markdown, human_duration

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
    assert "Impact: errors stopped\nDuration: 2m 5s\nIssues: None\nFollow-up: None" in text
    assert "- **Operator:** ann" in text and "- **Incident:** 7" in text
    assert human_duration(3720) == "1h 2m" and human_duration(0.25) == "0.2s"


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
            "--operator",
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
    assert "Rotated DB password" in listed.stdout and "15m 0s" in listed.stdout and "INC-3" in listed.stdout
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
