"""`opsbook serve` as `make run` starts it: a real process on the bundled example, real results at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbook.auth.models import AuditRow
from opsbook.auth.passwords import verify
from opsbook.db.engine import make_engine
from tests.support import free_port, wait_until

ROOT = Path(__file__).resolve().parent.parent
OPSBOOK = str(Path(sys.executable).parent / "opsbook")


class Served:
    def __init__(self, proc: subprocess.Popen[str], base: str, env: dict[str, str], log: Path) -> None:
        self.proc, self.base, self.env, self.log = proc, base, env, log

    def output(self) -> str:
        return self.log.read_text()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    port = free_port()
    env = {
        **os.environ,
        "OPSBOOK_PORT": str(port),
        "OPSBOOK_DATABASE_URL": f"sqlite:///{tmp_path}/run.db",
        "COLUMNS": "200",
    }
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [OPSBOOK, "serve", "-c", str(ROOT / "examples/opsbook.yaml"), "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            text=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: "serving at" in log.read_text() and _answers(base), "opsbook to listen")
        yield Served(proc, base, env, log)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def _answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_make_run_serves_the_example_with_real_results(served: Served) -> None:
    token = next(line.strip() for line in served.output().splitlines() if line.strip().startswith("opsb_"))
    headers = {"Authorization": f"Bearer {token}"}

    def all_checks_have_results() -> bool:
        checks = httpx.get(f"{served.base}/api/v1/checks", headers=headers, timeout=5).json()
        return all(c["state"] is not None for c in checks)

    wait_until(all_checks_have_results, "every example check to report")
    checks = {c["id"]: c for c in httpx.get(f"{served.base}/api/v1/checks", headers=headers).json()}
    assert checks["host/resources"]["state"]["status"] == "up"
    assert checks["jobs/pinger"]["state"]["status"] == "up"  # it pinged the heartbeat over HTTP
    assert checks["jobs/heartbeat"]["state"]["last_message"].startswith("ping received")

    status = subprocess.run(
        [OPSBOOK, "status", "-c", str(ROOT / "examples/opsbook.yaml")],
        capture_output=True,
        text=True,
        env=served.env,
        timeout=60,
    )
    assert status.returncode == 0
    for name in ("resources", "heartbeat", "pinger", "health"):
        assert name in status.stdout

    lines = served.output().splitlines()
    at = next(i for i, line in enumerate(lines) if "web login for 'admin'" in line)
    password = lines[at + 1].strip()
    engine = make_engine(served.env["OPSBOOK_DATABASE_URL"])
    with Session(engine) as session:
        assert verify(session, "admin", password)  # the printed first-start password signs in
    engine.dispose()

    assert httpx.get(f"{served.base}/metrics").status_code == 401  # it names services and people
    metrics = httpx.get(f"{served.base}/metrics", headers=headers).text
    assert 'opsbook_check_up{check="resources",service="host"} 1.0' in metrics
    assert "opsbook_results_written_total" in metrics


def test_the_admin_token_is_printed_on_first_start_only(tmp_path: Path) -> None:
    env = {**os.environ, "OPSBOOK_DATABASE_URL": f"sqlite:///{tmp_path}/t.db"}
    config = tmp_path / "opsbook.yaml"
    config.write_text("services: []\n")
    outputs = []
    for _ in range(2):
        port = free_port()
        proc = subprocess.Popen(
            [OPSBOOK, "serve", "-c", str(config), "--port", str(port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            text=True,
        )
        wait_until(partial(_answers, f"http://127.0.0.1:{port}"), "opsbook to listen")
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
        outputs.append(out)
    assert "opsb_" in outputs[0] and "opsb_" not in outputs[1]


def test_no_secret_reaches_logs_api_or_status(tmp_path: Path) -> None:
    secret = "pw-that-must-never-show-9731"
    config = tmp_path / "opsbook.yaml"
    config.write_text(
        """
services:
  - name: db
    checks:
      - name: main
        kind: postgres
        dsn: postgresql://app:${DB_PASSWORD}@127.0.0.1:1/app
        interval: 1s
      - name: leaky-script
        kind: command
        command: >-
          echo shell sees [$DB_PASSWORD]; echo connecting with ${DB_PASSWORD};
          echo postgresql://app:${DB_PASSWORD}@db/x; exit 1
        interval: 1s
"""
    )
    port = free_port()
    env = {
        **os.environ,
        "OPSBOOK_DATABASE_URL": f"sqlite:///{tmp_path}/s.db",
        "DB_PASSWORD": secret,
        "COLUMNS": "200",
    }
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [OPSBOOK, "serve", "-c", str(config), "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            text=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _answers(base), "opsbook to listen")
        token = next(
            line.strip() for line in log.read_text().splitlines() if line.strip().startswith("opsb_")
        )
        headers = {"Authorization": f"Bearer {token}"}

        def both_failed() -> bool:
            checks = httpx.get(f"{base}/api/v1/checks", headers=headers).json()
            return all(c["state"] and c["state"]["status"] == "down" for c in checks)

        wait_until(both_failed, "both checks to fail")
        api = "".join(
            httpx.get(f"{base}{path}", headers=headers).text
            for path in (
                "/api/v1/checks",
                "/api/v1/checks/db/leaky-script/results",
                "/api/v1/checks/db/main/results",
                "/metrics",
            )
        )
        status = subprocess.run(
            [OPSBOOK, "status", "-c", str(config)], capture_output=True, text=True, env=env, timeout=60
        )
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(20)
    assert "connecting with ***" in api  # the output is shown, the secret in it is not
    assert "shell sees []" in api  # opsbook's own environment does not reach the command
    for text in (api, status.stdout, status.stderr, log.read_text()):
        assert secret not in text


def test_a_forged_forwarded_address_is_not_believed(tmp_path: Path) -> None:
    """Without `server.trusted_proxies`, X-Forwarded-For is ignored: the audit log of a failed login names
    the real client, and a new forged address per try does not get around the login throttle."""
    config = tmp_path / "opsbook.yaml"
    config.write_text("services: []\nusers:\n  - {name: ana, role: admin}\n")
    database = f"sqlite:///{tmp_path}/f.db"
    port = free_port()
    proc = subprocess.Popen(
        [OPSBOOK, "serve", "-c", str(config), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        env={**os.environ, "OPSBOOK_DATABASE_URL": database},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(partial(_answers, base), "opsbook to listen")
        with httpx.Client(base_url=base) as client:
            csrf = client.get("/login").cookies["opsbook_login_csrf"]
            for n in range(25):
                res = client.post(
                    "/login",
                    data={"username": f"nobody{n}", "password": "wrong-password", "csrf_token": csrf},
                    headers={"X-Forwarded-For": f"203.0.113.{n}"},
                )
                assert res.status_code == (401 if n < 20 else 429)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(20)
    engine = make_engine(database)
    with Session(engine) as session:
        sources = set(session.scalars(select(AuditRow.source).where(AuditRow.action.like("auth.login%"))))
    engine.dispose()
    assert sources == {"127.0.0.1"}
