"""A real `opsbook serve` killed with SIGKILL after an alert was decided and before its delivery:
after a restart the notification arrives, exactly once (nothing was in flight: the receiver was down)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.support import free_port, wait_until

OPSBOOK = str(Path(sys.executable).parent / "opsbook")


class Hook(BaseHTTPRequestHandler):
    """A webhook receiver in a thread: keeps every JSON body and the path it was posted to."""

    received: list[dict[str, str]] = []
    paths: list[str] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Hook.received.append(json.loads(body))
        Hook.paths.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hook_port() -> Iterator[int]:
    Hook.received, Hook.paths = [], []
    yield free_port()


def serve(config: Path, port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [OPSBOOK, "serve", "-c", str(config), "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )


def outbox(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(db) as conn:
        try:
            return conn.execute("SELECT kind, status FROM notify_outbox").fetchall()
        except sqlite3.OperationalError:
            return []


def test_a_decided_notification_survives_sigkill(tmp_path: Path, hook_port: int) -> None:
    config = tmp_path / "opsbook.yaml"
    config.write_text(f"""
channels:
  - name: ops
    url: json://127.0.0.1:{hook_port}/hook
notifications:
  retry: {{base: 1s, factor: 1, jitter: 0}}
services:
  - name: batch
    checks:
      - name: job
        kind: command
        command: "exit 1"
        interval: 1s
        failures: 3
""")
    db = tmp_path / "crash.db"
    env = {**os.environ, "OPSBOOK_DATABASE_URL": f"sqlite:///{db}"}
    log = tmp_path / "serve.log"
    first = serve(config, free_port(), env, log)
    try:
        # the alert fires and its message is decided; the receiver is down, so it cannot be delivered
        wait_until(lambda: ("firing", "pending") in outbox(db), "the firing notification in the outbox")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)

    server = ThreadingHTTPServer(("127.0.0.1", hook_port), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    second = serve(config, free_port(), env, log)
    try:
        wait_until(lambda: len(Hook.received) >= 1, "delivery after the restart")
        wait_until(lambda: ("firing", "sent") in outbox(db), "the outbox row marked sent")
    finally:
        second.send_signal(signal.SIGINT)
        second.wait(20)
        server.shutdown()
    firing = [m for m in Hook.received if "FIRING" in m.get("title", "")]
    assert len(firing) == 1, Hook.received
    assert [row for row in outbox(db) if row[0] == "firing"] == [
        ("firing", "sent")
    ]  # one row: no copy to come
    assert "batch/job" in firing[0]["title"]
