"""`opsbook incident ...` and `opsbook report incidents` on a tmp opsbook.yaml and SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from tests.incidents.conftest import team_yaml
from typer.testing import CliRunner

from opsbook.auth.models import AuditRow
from opsbook.cli.main import app
from opsbook.db.engine import make_engine, make_sessionmaker
from opsbook.notify.models import OutboxRow


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    config = tmp_path / "opsbook.yaml"
    config.write_text(team_yaml(9))
    values = {
        "OPSBOOK_CONFIG": str(config),
        "OPSBOOK_DATABASE_URL": f"sqlite:///{tmp_path}/opsbook.db",
        "OPSBOOK_USER": "ben",
        "COLUMNS": "200",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_incident_lifecycle_from_the_command_line(env: dict[str, str], tmp_path: Path) -> None:
    code, out = run("incident", "open", "Checkout is down", "-s", "P1", "--service", "api",
                    "--impact", "no orders")
    assert code == 0, out
    assert "incident 1 opened: [P1] Checkout is down — triggered" in out
    code, out = run("incident", "list")
    assert code == 0 and "Checkout is down" in out and "triggered" in out
    code, out = run("incident", "ack", "1")
    assert code == 0 and "acknowledged by ben" in out
    code, out = run("incident", "status", "1", "investigating", "-m", "db pool exhausted", "--eta", "20m")
    assert code == 0 and "investigating" in out, out
    assert run("incident", "note", "1", "restarted api-1")[0] == 0
    code, out = run("incident", "severity", "1", "P0", "-m", "all customers")
    assert code == 0 and "[P0]" in out
    code, out = run("incident", "show", "1")
    assert code == 0, out
    for text in ("Incident 1: [P0] Checkout is down", "Impact: no orders", "ETA: 20m",
                 "Investigating: db pool exhausted (ETA: 20m)", "restarted api-1", "Severity P1 → P0"):
        assert text in out
    code, out = run("incident", "resolve", "1", "-m", "pool size raised")
    assert code == 0 and "resolved" in out
    code, out = run("incident", "resolve", "1")
    assert code == 1 and "resolved already" in out  # a conflict
    code, out = run("incident", "ack", "7")
    assert code == 1 and "no incident 7" in out
    code, out = run("incident", "status", "1", "fixed")
    assert code == 2 and "'fixed' is not a status" in out  # bad input
    code, out = run("incident", "severity", "1", "P9")
    assert code == 2 and "error:" in out

    assert run("incident", "list")[1].strip() == "no open incidents"
    code, out = run("incident", "list", "--all", "--json")
    assert [i["status"] for i in json.loads(out)] == ["resolved"]
    draft = tmp_path / "pm.md"
    code, out = run("incident", "postmortem", "1", "-o", str(draft))
    assert code == 0 and draft.read_text().startswith("# Post-mortem: incident #1 — Checkout is down")
    assert "Time to acknowledge:" in draft.read_text()

    code, out = run("report", "incidents", "--since", "7d", "--json")
    assert code == 0, out
    data = json.loads(out)
    assert data["total"]["count"] == 1 and data["total"]["resolved"] == 1
    oncall = next(iter(data["pages_per_person"]))  # the CLI runs at the real time: ana's or ben's week
    assert data["pages_per_person"] == {oncall: 1} and oncall in ("ana", "ben")
    code, out = run("report", "incidents")
    assert code == 0 and "By severity" in out and "Pages per person" in out
    code, out = run("report", "incidents", "--since", "soon")  # read like the API's since (timefmt)
    assert code == 2 and "'soon' is neither a length of time" in out and "2026-03-09 14:00" in out, out

    sessions = make_sessionmaker(make_engine(env["OPSBOOK_DATABASE_URL"]))
    with sessions() as s:
        audit = [(a.actor, a.action, a.source) for a in s.scalars(select(AuditRow).order_by(AuditRow.id))]
        pages = s.scalars(select(OutboxRow.channel).where(OutboxRow.channel.like("contact:%"))).all()
    assert audit == [("ben", "incident.open", "cli"), ("ben", "incident.ack", "cli"),
                     ("ben", "incident.status", "cli"), ("ben", "incident.note", "cli"),
                     ("ben", "incident.severity", "cli"), ("ben", "incident.resolve", "cli")]
    assert pages == [f"contact:{oncall}:0"]  # one page queued for whoever is on call
