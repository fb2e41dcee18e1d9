"""Real opsbook processes on a PostgreSQL database, and local HTTP servers counting what reaches them:
a target counting probes per path, a webhook receiver keeping every message (Apprise json://)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from sqlalchemy import create_engine, text

OPSBOOK = str(Path(sys.executable).parent / "opsbook")


class Counting(ThreadingHTTPServer):
    """Answers every GET with `status` (per path, else 200) and counts the hits per path; keeps every
    POSTed JSON body with its path."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.hits: Counter[str] = Counter()
        self.status: dict[str, int] = {}
        self.posts: list[tuple[str, dict[str, object]]] = []
        self.lock = threading.Lock()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def snapshot(self) -> Counter[str]:
        with self.lock:
            return Counter(self.hits)

    def posted(self, path: str) -> list[dict[str, object]]:
        with self.lock:
            return [body for where, body in self.posts if where == path]


class _Handler(BaseHTTPRequestHandler):
    server: Counting

    def do_GET(self) -> None:
        with self.server.lock:
            self.server.hits[self.path] += 1
        status = self.server.status.get(self.path, 200)
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with self.server.lock:
            self.server.posts.append((self.path, json.loads(body or b"{}")))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def counting_server() -> Iterator[Counting]:
    server = Counting()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


class Processes:
    """opsbook processes started by a test, stopped (or killed) at its end."""

    def __init__(self, config: Path, db_url: str, logs: Path) -> None:
        self.config = config
        self.env = {**os.environ, "OPSBOOK_DATABASE_URL": db_url}
        self.logs = logs
        self.started: list[subprocess.Popen[bytes]] = []

    def worker(self, name: str, *extra: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        return self._start([OPSBOOK, "worker", "-c", str(self.config), "--name", name, *extra], name, env)

    def serve(self, port: int, name: str, *extra: str) -> subprocess.Popen[bytes]:
        argv = [OPSBOOK, "serve", "-c", str(self.config), "--port", str(port), "--name", name, *extra]
        return self._start(argv, name)

    def _start(self, argv: list[str], name: str, env: dict[str, str] | None = None
               ) -> subprocess.Popen[bytes]:
        with (self.logs / f"{name}.log").open("ab") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                    env={**self.env, **(env or {})})
        self.started.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.started:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.started:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def query(url: str, sql: str) -> list[tuple[object, ...]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql))]
    finally:
        engine.dispose()


def leases_by_member(url: str) -> dict[str, int]:
    """Member name → partitions it holds with an unexpired lease."""
    rows = query(url, "SELECT m.name, count(*) FROM check_leases l JOIN cluster_members m ON m.id = l.holder "
                      "WHERE l.expires_at > now() GROUP BY m.name")
    return {str(name): int(str(count)) for name, count in rows}


def duty_holders(url: str, duty: str) -> list[str]:
    """Names of the live members whose last heartbeat says they hold `duty`."""
    rows = query(url, "SELECT name, duties FROM cluster_members WHERE stopped_at IS NULL "
                      "AND heartbeat_at > now() - interval '3 seconds'")
    return [str(name) for name, duties in rows if duty in str(duties).split(",")]
