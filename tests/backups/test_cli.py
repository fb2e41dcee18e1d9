"""`opsbook backup` and `opsbook secret` as a person types them: real processes, an 80-column terminal,
a real drill, and a broken backups or secrets section named by file, line and field."""

from __future__ import annotations

import subprocess
from pathlib import Path

import psycopg
import pytest

from opsbook.checks.kinds.postgres import libpq_dsn
from tests.test_cli import run

WIDTH = "80"


def config(tmp_path: Path, pg_url: str) -> Path:
    path = tmp_path / "opsbook.yaml"
    path.write_text(f"""
timezone: Europe/Berlin
users:
  - {{name: ana}}
backups:
  - name: db-nightly
    component: db
    schedule: "0 2 * * *"
    rpo: 1d
    rto: 30m
    heartbeat: {{token: db-nightly-ping-token-01}}
    drill:
      schedule: "0 4 * * 0"
      postgres: {{dsn: "{pg_url}", dump: "{tmp_path}/db-*.dump"}}
      smoke: [{{name: a table, sql: "select count(*) from pg_class", min: 1}}]
secrets:
  - {{name: jwt-signing-key, owner: ana, protects: API sessions, every: 90d}}
""")
    return path


def test_backup_list_drill_and_report(tmp_path: Path, pg_url: str) -> None:
    path = config(tmp_path, pg_url)
    listed = run(["backup", "list", "-c", str(path)], tmp_path, COLUMNS=WIDTH)
    assert listed.returncode == 0, listed.stderr
    assert "db-nightly" in listed.stdout and "none yet" in listed.stdout
    assert ("db-nightly pings: http://127.0.0.1:8080/ping/db-nightly-ping-token-01/start, then "
            "http://127.0.0.1:8080/ping/db-nightly-ping-token-01?size=BYTES") in listed.stdout
    assert max(len(line) for line in listed.stdout.split("\ndb-nightly pings")[0].splitlines()) <= 80

    # no dump yet: the drill fails, says why, exits 1
    failed = run(["backup", "drill", "db-nightly", "-c", str(path), "--as", "ana"], tmp_path, COLUMNS=WIDTH)
    assert failed.returncode == 1
    assert f"drill failed: no dump file matches '{tmp_path}/db-*.dump'" in failed.stdout

    subprocess.run(["pg_dump", "--format=custom", f"--file={tmp_path}/db-1.dump",
                    f"--dbname={libpq_dsn(pg_url)}"], check=True)
    drilled = run(["backup", "drill", "db-nightly", "-c", str(path), "--as", "ana"], tmp_path, COLUMNS=WIDTH)
    assert drilled.returncode == 0, drilled.stdout + drilled.stderr
    assert "ok pg_restore db-1.dump" in drilled.stdout and "ok smoke: a table" in drilled.stdout
    assert "drill passed: RTO" in drilled.stdout and "(target 30m)" in drilled.stdout

    report = run(["backup", "report", "-c", str(path)], tmp_path, COLUMNS=WIDTH)
    assert report.returncode == 0, report.stderr
    assert "db-nightly (db)" in report.stdout and "30m / " in report.stdout and " CET" in report.stdout
    row = next(line for line in report.stdout.splitlines() if "db-nightly (db)" in line)
    assert row.split()[-1] == "ok"  # drilled, and not a day without a backup since opsbook began watching
    assert max(len(line) for line in report.stdout.splitlines()) <= 80
    with psycopg.connect(libpq_dsn(pg_url)) as conn:
        left = conn.execute("SELECT count(*) FROM pg_database "
                            "WHERE datname LIKE 'opsbook_drill_db_nightly_%'")
        assert left.fetchone() == (0,)


def test_secret_rotated_list_show_and_compromised(tmp_path: Path, pg_url: str) -> None:
    path = config(tmp_path, pg_url)
    rotated = run(["secret", "rotated", "jwt-signing-key", "--at", "2026-01-05 10:00", "-m", "new key",
                   "-c", str(path), "--as", "ana"], tmp_path, COLUMNS=WIDTH)
    assert rotated.returncode == 0, rotated.stderr
    assert "rotation recorded at 2026-01-05 10:00 CET; next due 2026-04-05 11:00 CEST" in rotated.stdout

    listed = run(["secret", "list", "-c", str(path)], tmp_path, COLUMNS=WIDTH)
    assert listed.returncode == 0 and "jwt-signing-key" in listed.stdout and "ana" in listed.stdout
    assert max(len(line) for line in listed.stdout.splitlines()) <= 80

    shown = run(["secret", "show", "jwt-signing-key", "-c", str(path)], tmp_path, COLUMNS=WIDTH)
    assert "Policy: rotate every 90d (owner told 14 d ahead)" in shown.stdout and "new key" in shown.stdout
    assert "State: last rotated 2026-01-05 CET, " in shown.stdout  # the team's zone, named

    opened = run(["secret", "compromised", "jwt-signing-key", "--reason", "key in a public gist",
                  "-c", str(path), "--as", "ana"], tmp_path, COLUMNS=WIDTH)
    assert opened.returncode == 0, opened.stderr
    assert opened.stdout.startswith("incident 1 opened: rotate jwt-signing-key by ")
    assert "opsbook secret rotated jwt-signing-key" in opened.stdout
    incident = run(["incident", "show", "1", "-c", str(path)], tmp_path, COLUMNS=WIDTH)
    assert "jwt-signing-key compromised" in incident.stdout
    assert "Emergency rotation due by " in incident.stdout and " UTC" not in incident.stdout

    assert run(["secret", "compromised", "jwt-signing-key", "-c", str(path)], tmp_path).returncode == 2
    missing = run(["secret", "show", "nope", "-c", str(path)], tmp_path)
    assert missing.returncode == 1 and "no secret 'nope' in the inventory" in missing.stderr


@pytest.mark.parametrize(("section", "line", "message"), [
    ("secrets:\n  - {name: jwt, owner: bob, every: 90d}\n", 3,
     "secrets[0].owner: unknown user 'bob'; add it under `users:`"),
    ("backups:\n  - name: db\n    component: db\n    schedule: \"0 2 * * *\"\n", 3,
     "backups[0]: a backup job needs a 'heartbeat', a 'list' command, or both"),
    ("backups:\n  - name: db\n    component: db\n    schedule: \"0 25 * * *\"\n    heartbeat: {}\n", 6,
     "backups[0].schedule:"),
])
def test_a_broken_section_is_named_by_file_line_and_field(
    tmp_path: Path, section: str, line: int, message: str
) -> None:
    path = tmp_path / "opsbook.yaml"
    path.write_text("users: [{name: ana}]\n" + section)
    result = run(["validate", str(path)], tmp_path)
    assert result.returncode == 1
    assert any(f"{path}:" in err and message in err for err in result.stderr.splitlines()), result.stderr
