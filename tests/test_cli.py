"""The `opsbook` command as a user runs it: validate, schema, init, token, check run, status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

OPSBOOK = str(Path(sys.executable).parent / "opsbook")


def run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "OPSBOOK_DATABASE_URL": f"sqlite:///{tmp_path}/cli.db", "COLUMNS": "200", **env}
    return subprocess.run(
        [OPSBOOK, *args], capture_output=True, text=True, env=full_env, timeout=60, check=False
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
    result = run(["schema"], tmp_path)
    schema = json.loads(result.stdout)
    assert schema["title"] == "opsbook.yaml"
    assert "services" in schema["properties"]
    kinds = json.dumps(schema["$defs"])
    for kind in ("http", "tcp", "tls", "postgres", "redis", "command", "heartbeat", "host"):
        assert f'"const": "{kind}"' in kinds or f'"enum": ["{kind}"]' in kinds


def test_init_writes_a_starter_that_validates(tmp_path: Path) -> None:
    path = tmp_path / "opsbook.yaml"
    assert run(["init", str(path)], tmp_path).returncode == 0
    assert run(["init", str(path)], tmp_path).returncode == 1  # never overwrites silently
    env = {"DATABASE_URL": "postgresql://app:pw@127.0.0.1/app", "REDIS_PASSWORD": "pw"}
    result = run(["validate", str(path)], tmp_path, **env)
    assert result.returncode == 0, result.stderr
    assert "5 services" in result.stdout


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
