"""The `opsbook` command as a user runs it: validate, schema, init, token, check run, status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from opsbook.checks.result import CheckResult, StoredResult
from opsbook.checks.store import write_batch
from opsbook.cli.main import COMMANDS, load
from opsbook.db.engine import make_engine

OPSBOOK = str(Path(sys.executable).parent / "opsbook")


def run(
    args: list[str], tmp_path: Path, *, cwd: Path | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """`opsbook ARGS` on the database tmp_path/cli.db (unless env says OPSBOOK_DATABASE_URL="")."""
    full_env = {**os.environ, "OPSBOOK_DATABASE_URL": f"sqlite:///{tmp_path}/cli.db", "COLUMNS": "200", **env}
    if not full_env["OPSBOOK_DATABASE_URL"]:
        del full_env["OPSBOOK_DATABASE_URL"]
    return subprocess.run(
        [OPSBOOK, *args], capture_output=True, text=True, env=full_env, timeout=60, check=False, cwd=cwd
    )


BROKEN = """\
services:
  - name: api
    checks:
      - name: health
        kind: http
        url: http://127.0.0.1:9/
        interval: 5 parsecs
        retries: 2
      - name: db
        kind: postgres
"""


def test_validate_prints_every_error_with_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "opsbook.yaml"
    path.write_text(BROKEN)
    result = run(["validate", str(path)], tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"{path}:7: services[0].checks[0].interval: '5 parsecs' is not a duration: "
        "use a number of seconds or a string like '30s', '5m', '1h30m'",
        f"{path}:8: services[0].checks[0].retries: unknown field",
        f"{path}:9: services[0].checks[1].dsn: field required",
    ]


def test_serve_refuses_an_invalid_file_with_the_same_message(tmp_path: Path) -> None:
    path = tmp_path / "opsbook.yaml"
    path.write_text(BROKEN)
    result = run(["serve", "-c", str(path), "--port", "1"], tmp_path)
    assert result.returncode == 2
    assert f"{path}:8: services[0].checks[0].retries: unknown field" in result.stderr.splitlines()


def test_schema_is_json_schema_of_the_whole_file(tmp_path: Path) -> None:
    result = run(["schema", "-c", "any.yaml"], tmp_path)  # -c is accepted, as by every command
    schema = json.loads(result.stdout)
    assert schema["title"] == "opsbook.yaml"
    assert "services" in schema["properties"]
    kinds = json.dumps(schema["$defs"])
    for kind in ("http", "tcp", "tls", "postgres", "redis", "command", "heartbeat", "host"):
        assert f'"const": "{kind}"' in kinds or f'"enum": ["{kind}"]' in kinds


def test_init_writes_a_starter_and_says_what_to_export(tmp_path: Path) -> None:
    path = tmp_path / "team" / "ops.yaml"
    path.parent.mkdir()
    written = run(["init", "-c", str(path)], tmp_path)
    assert written.returncode == 0, written.stderr
    assert f"export DATABASE_URL=...    # {path}:33" in written.stdout
    assert f"export REDIS_PASSWORD=...  # {path}:43" in written.stdout
    assert run(["init", "-c", str(path)], tmp_path).returncode == 1  # never overwrites silently

    unset = run(["validate", "-c", str(path)], tmp_path)
    assert unset.returncode == 1
    assert unset.stderr.splitlines() == [  # every variable at once, each at its line
        f"{path}:33: services[1].checks[0].dsn: environment variable DATABASE_URL is not set",
        f"{path}:43: services[2].checks[0].url: environment variable REDIS_PASSWORD is not set",
    ]
    dsn = "postgresql://app:pw@127.0.0.1/app"
    result = run(["validate", str(path)], tmp_path, DATABASE_URL=dsn, REDIS_PASSWORD="pw")
    assert result.returncode == 0, result.stderr
    assert "5 services" in result.stdout
    exported = run(["init", str(tmp_path / "other.yaml")], tmp_path, DATABASE_URL=dsn, REDIS_PASSWORD="pw")
    assert "export" not in exported.stdout  # nothing left to export


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "opsbook.yaml"
    path.write_text(
        """
services:
  - name: shell
    checks:
      - name: ok
        kind: command
        command: "echo all good"
      - name: broken
        kind: command
        command: "echo 'connecting to postgresql://app:${DB_PASSWORD}@db' >&2; exit 3"
  - name: jobs
    checks:
      - name: nightly
        kind: heartbeat
        period: 1d
"""
    )
    return path


def test_check_run_prints_the_result_and_exits_by_it(config: Path, tmp_path: Path) -> None:
    ok = run(["check", "run", "shell/ok", "-c", str(config)], tmp_path, DB_PASSWORD="x")
    assert ok.returncode == 0 and "shell/ok: up" in ok.stdout
    broken = run(["check", "run", "broken", "-c", str(config)], tmp_path, DB_PASSWORD="s3cret-pw-42")
    assert broken.returncode == 1
    assert "shell/broken: down" in broken.stdout and "exit" in broken.stdout
    assert "s3cret-pw-42" not in broken.stdout + broken.stderr
    unknown = run(["check", "run", "nope", "-c", str(config)], tmp_path, DB_PASSWORD="x")
    assert unknown.returncode == 1 and "no single check named 'nope'" in unknown.stdout


def test_check_list_shows_the_ping_url_of_heartbeats(config: Path, tmp_path: Path) -> None:
    listing = run(["check", "list", "-c", str(config)], tmp_path, DB_PASSWORD="x")
    assert listing.returncode == 0
    assert "http://127.0.0.1:8080/ping/" in listing.stdout and "expected every 1d" in listing.stdout
    again = run(["check", "list", "-c", str(config)], tmp_path, DB_PASSWORD="x")
    url = next(w for w in listing.stdout.split() if "/ping/" in w)
    assert url in again.stdout  # the generated token is stored, not made anew


def test_tokens_are_shown_once_and_listed_without_secret(config: Path, tmp_path: Path) -> None:
    created = run(
        ["token", "create", "grafana", "--role", "responder", "-c", str(config)], tmp_path, DB_PASSWORD="x"
    )
    token = created.stdout.strip()
    assert token.startswith("opsb_") and len(token) > 30
    listing = run(["token", "list", "-c", str(config)], tmp_path, DB_PASSWORD="x")
    assert "grafana" in listing.stdout and "responder" in listing.stdout and token not in listing.stdout


def test_help_lists_every_command_without_importing_any(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from opsbook.cli.main import app\n"
        "try:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('opsbook.') and m != 'opsbook.cli.main'))\n"
        "print(sorted(m for m in ('sqlalchemy', 'pydantic', 'fastapi', 'aiohttp') if m in sys.modules))\n"
    )
    shown = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"}
    )
    *listing, modules, libraries = shown.stdout.splitlines()
    assert (modules, libraries) == ("['opsbook.cli', 'opsbook.cli.startup']", "[]")
    for name, entry in COMMANDS.items():
        assert any(name in line and entry.help in line for line in listing), name


@pytest.mark.parametrize("name", list(COMMANDS))
def test_the_listed_help_is_the_commands_own(name: str) -> None:
    assert load(name).get_short_help_str(limit=200) == COMMANDS[name].help


def test_a_relative_database_is_beside_the_config_from_any_folder(tmp_path: Path) -> None:
    team = tmp_path / "team"
    team.mkdir()
    (team / "opsbook.yaml").write_text("database_url: sqlite:///state/ops.db\nservices: []\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    created = run(
        ["db", "upgrade", "-c", "../team/opsbook.yaml"], tmp_path, cwd=elsewhere, OPSBOOK_DATABASE_URL=""
    )
    assert created.returncode == 0, created.stderr
    assert (team / "state" / "ops.db").exists()
    assert not (elsewhere / "state").exists()
    shown = run(["status", "-c", str(team / "opsbook.yaml")], tmp_path, cwd=tmp_path, OPSBOOK_DATABASE_URL="")
    assert shown.returncode == 0, shown.stderr
    # the variable's relative path is read the same way
    env = {"OPSBOOK_DATABASE_URL": "sqlite:///state/ops.db"}
    assert run(["status", "-c", "team/opsbook.yaml"], tmp_path, cwd=tmp_path, **env).returncode == 0


def test_status_on_a_database_that_is_not_there_says_so(tmp_path: Path) -> None:
    (tmp_path / "opsbook.yaml").write_text("services: []\n")
    shown = run(["status", "-c", str(tmp_path / "opsbook.yaml")], tmp_path, OPSBOOK_DATABASE_URL="")
    assert shown.returncode == 1
    assert " ".join(shown.stderr.split()) == (
        f"error: no database at {tmp_path}/var/opsbook.db: is this the right config "
        f"({tmp_path}/opsbook.yaml)? serve creates it"
    )
    assert not (tmp_path / "var").exists()  # nothing was made


WIDE = """
services:
  - name: payments-gateway
    checks:
      - name: card-authorisation-latency
        kind: command
        command: "true"
      - name: settlement-batch-export
        kind: command
        command: "true"
  - name: customer-facing-api
    checks:
      - name: public-health-endpoint
        kind: command
        command: "true"
"""


def test_status_is_readable_at_80_columns(tmp_path: Path) -> None:
    config = tmp_path / "opsbook.yaml"
    config.write_text(WIDE)
    assert run(["db", "upgrade", "-c", str(config)], tmp_path).returncode == 0
    now = datetime.now(UTC)
    why = "connection refused while connecting to card-auth.internal:8443 (after 3 attempts over 30s)"
    engine = make_engine(f"sqlite:///{tmp_path}/cli.db")
    with Session(engine) as session, session.begin():
        write_batch(
            session,
            [
                StoredResult(
                    "payments-gateway/card-authorisation-latency",
                    now - timedelta(minutes=7),
                    CheckResult.down(why, 5012.0),
                ),
                StoredResult(
                    "customer-facing-api/public-health-endpoint",
                    now - timedelta(seconds=20),
                    CheckResult.up(12.5, "200 OK"),
                ),
            ],
        )
    engine.dispose()
    for width in (80, 100, 200):
        shown = run(["status", "-c", str(config)], tmp_path, COLUMNS=str(width))
        assert shown.returncode == 0, shown.stderr
        lines = shown.stdout.splitlines()
        assert max(map(len, lines)) <= width, shown.stdout
        text = shown.stdout
        for name in (
            "payments-gateway",
            "customer-facing-api",
            "card-authorisation-latency",
            "settlement-batch-export",
            "public-health-endpoint",
            "down",
            "up",
            "no data",
        ):
            assert name in text, (width, name)
        assert "connection refused while connecting to card-auth.internal:8443" in " ".join(text.split())
    narrow = run(["status", "-c", str(config)], tmp_path, COLUMNS="80").stdout
    assert "payments-gateway/card-authorisation-latency: connection refused" in narrow  # under the table
    assert "24 h" in narrow


def test_the_console_measures_the_terminal_when_it_prints(monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands run in one process one after another (tests, CliRunner) each print at their own COLUMNS."""
    from opsbook.cli.common import console

    monkeypatch.setenv("COLUMNS", "61")
    made_at_61 = type(console)()  # as the console is when the first command imported it under COLUMNS=61
    assert made_at_61.width == 61
    monkeypatch.setenv("COLUMNS", "203")
    assert made_at_61.width == console.width == 203
