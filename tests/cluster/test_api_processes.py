"""Two `opsbook serve --no-workers` processes behind one (imagined) load balancer and a worker, on one
PostgreSQL database: what one API process does, the other knows, because it lives in the database.

- a browser session made at one process works at the other, its CSRF token included, and signing out at
  one ends it at both;
- failed sign-ins are throttled over both processes together (the counts are rows, not memory);
- the status page of both shows a check's outage found by the worker (a third process) without waiting
  for its refresh period: every process's change feed hears of it;
- both list the three processes at /api/v1/cluster and /ui/cluster.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session

from opsbook.auth.passwords import set_password
from opsbook.clock import SystemClock
from opsbook.db.engine import make_engine
from tests.cluster.procs import Counting, Processes, counting_server
from tests.support import free_port, wait_until

PASSWORD = "correct horse battery staple 42"


@pytest.fixture
def target() -> Iterator[Counting]:
    with counting_server() as server:
        yield server


def answers(base: str) -> bool:
    try:
        return httpx.get(base + "/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def sign_in(client: httpx.Client, user: str, password: str) -> httpx.Response:
    csrf = client.get("/login").cookies["opsbook_login_csrf"]
    return client.post("/login", data={"username": user, "password": password, "csrf_token": csrf})


def status_text(base: str) -> str:
    return httpx.get(base + "/status", timeout=5).text


def test_sessions_csrf_throttle_and_status_work_across_two_api_processes(
    tmp_path: Path, pg_db: str, target: Counting
) -> None:
    procs = Processes(tmp_path / "opsbook.yaml", pg_db, tmp_path)
    procs.config.write_text(f"""
cluster: {{lease: 2s}}
users:
  - {{name: ana, role: admin}}
  - {{name: ben, role: viewer}}
services:
  - name: shop
    public: true
    checks:
      - {{name: home, kind: http, url: "http://127.0.0.1:{target.port}/c1", interval: 1s, timeout: 1s}}
""")
    engine = make_engine(pg_db)
    with Session(engine) as session, session.begin():
        set_password(session, "ana", PASSWORD, SystemClock().now())
    engine.dispose()
    one, two = (f"http://127.0.0.1:{port}" for port in (free_port(), free_port()))
    try:
        procs.serve(int(one.rsplit(":", 1)[1]), "api1", "--no-workers")
        procs.serve(int(two.rsplit(":", 1)[1]), "api2", "--no-workers")
        procs.worker("w1")
        wait_until(lambda: answers(one) and answers(two), "both API processes to listen")

        with httpx.Client(base_url=one) as at_one, httpx.Client(base_url=two) as at_two:
            assert sign_in(at_one, "ana", PASSWORD).status_code == 303
            at_two.cookies.set("opsbook_session", at_one.cookies["opsbook_session"])
            page = at_two.get("/ui/cluster")  # the session made at one is known at two
            assert page.status_code == 200
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert csrf is not None
            wait_until(lambda: _members(at_one) == {"api1", "api2", "w1"}, "three members at one")
            assert _members(at_two) == {"api1", "api2", "w1"}
            roles = {m["name"]: m["roles"] for m in at_two.get("/api/v1/cluster").json()["members"]}
            assert roles == {"api1": ["api"], "api2": ["api"], "w1": ["worker"]}
            assert at_two.post("/logout", data={}).status_code == 403  # no CSRF token: refused
            assert at_two.post("/logout", data={"csrf_token": csrf.group(1)}).status_code == 303
            assert at_one.get("/ui/cluster").status_code == 303  # signed out at two: at one too (to /login)

        with httpx.Client(base_url=one) as at_one, httpx.Client(base_url=two) as at_two:
            codes = [sign_in(client, "ben", "wrong password").status_code
                     for client in (at_one, at_two, at_one, at_two, at_one, at_two)]
        assert codes == [401, 401, 401, 401, 401, 429]  # five failures per user, counted over both

        wait_until(lambda: "All systems operational" in status_text(one), "one's status page", limit=30)
        target.status["/c1"] = 500  # the worker finds the shop down
        wait_until(lambda: "Major outage" in status_text(one) and "Major outage" in status_text(two),
                   "both status pages showing the outage", limit=30)
    finally:
        procs.stop_all()


def _members(client: httpx.Client) -> set[str]:
    body = client.get("/api/v1/cluster").json()
    return {m["name"] for m in body["members"] if m["state"] == "alive"}
