"""A real `opsbook serve` killed with SIGKILL during an escalation resumes at the right level after restart.

The policy pages ana at once, lead after 4 s and cto after 24 s (seconds instead of minutes, so a real
process can be used; the 20 s between the lead and the CTO leave room for a busy machine to notice the
lead's page and kill the process before the CTO is due). The process is killed after the lead's page is
sent and recorded; the restarted one pages the CTO at +24 s, not earlier, and never pages ana or the lead
again.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
from datetime import datetime
from http.server import ThreadingHTTPServer
from pathlib import Path

from tests.e2e.test_crash import Hook, serve
from tests.support import free_port, wait_until


def steps(db: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(db) as conn:
        try:
            return conn.execute(
                "SELECT s.step_key, s.sent_at, i.opened_at FROM incident_escalation_steps s "
                "JOIN incidents i ON i.id = s.incident_id ORDER BY s.id"
            ).fetchall()
        except sqlite3.OperationalError:
            return []


def unsent(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM notify_outbox WHERE status != 'sent'").fetchone()[0])


def offsets(db: Path) -> dict[str, float]:
    return {
        key: (datetime.fromisoformat(sent) - datetime.fromisoformat(opened)).total_seconds()
        for key, sent, opened in steps(db)
    }


def test_escalation_resumes_at_the_right_level_after_sigkill(tmp_path: Path) -> None:
    Hook.received, Hook.paths = [], []
    hook_port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", hook_port), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    config = tmp_path / "opsbook.yaml"
    config.write_text(f"""
users:
  - {{name: ana, contacts: [{{url: "json://127.0.0.1:{hook_port}/ana"}}]}}
  - {{name: lead, contacts: [{{url: "json://127.0.0.1:{hook_port}/lead"}}]}}
  - {{name: cto, contacts: [{{url: "json://127.0.0.1:{hook_port}/cto"}}]}}
escalation_policies:
  - name: default
    levels:
      - {{targets: ["user:ana"], after: 4s}}
      - {{targets: ["user:lead"], after: 20s}}
      - {{targets: ["user:cto"]}}
routing:
  P1: {{action: page, channels: []}}
alerting: {{default_severity: P1}}
services:
  - name: api
    checks:
      - name: health
        kind: command
        command: "exit 1"
        interval: 1s
        failures: 2
""")
    db = tmp_path / "esc.db"
    env = {**os.environ, "OPSBOOK_DATABASE_URL": f"sqlite:///{db}"}
    log = tmp_path / "serve.log"
    first = serve(config, free_port(), env, log)
    try:
        wait_until(lambda: "r0-l1" in offsets(db), "the lead's page", limit=60)
        # killed once the lead's page is recorded as sent: a kill between the send and its record would
        # send it again after the restart, as at-least-once delivery must (tests/e2e/test_crash.py)
        wait_until(lambda: unsent(db) == 0, "the lead's page recorded as sent", limit=30)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    assert set(offsets(db)) == {"r0-l0", "r0-l1"}
    second = serve(config, free_port(), env, log)
    try:
        wait_until(lambda: "r0-l2" in offsets(db), "the CTO's page after the restart", limit=60)
        wait_until(lambda: any(p == "/cto" for p in Hook.paths), "the CTO's page delivered", limit=30)
    finally:
        second.send_signal(signal.SIGINT)
        second.wait(20)
        server.shutdown()
    sent = offsets(db)
    assert sorted(sent) == ["r0-l0", "r0-l1", "r0-l2"]  # each level once: nothing sent twice
    assert sent["r0-l0"] < 2 and 4 <= sent["r0-l1"] < 6
    assert sent["r0-l2"] >= 24  # not earlier than its time, though the process was restarted
    assert sorted(Hook.paths) == ["/ana", "/cto", "/lead"], Hook.paths
