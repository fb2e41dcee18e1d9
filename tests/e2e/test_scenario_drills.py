"""Scenario 5 of SCENARIOS.md, "The drills nobody does", end to end on a fake clock with real parts.

Every night a backup job (this test) runs a real `pg_dump` of a database on the throwaway PostgreSQL and
pings opsbook over HTTP when it starts and when it is done, with the dump's size. Once a week opsbook
restores the newest dump into a scratch database it creates and drops, runs the smoke queries, and holds
the measured restore time against the RTO target; the drill is in the operations log and the DR table.
The JWT secret was rotated 91 days ago against a 90-day policy: an overdue alert goes to the team and its
owner ana is told. A TLS certificate (a real TLS server on 127.0.0.1) expires in 13 days: a P3
notification.

Time: the scenario's nights are a FakeClock's, started at the real time (OpenSSL verifies the certificate
against it); the dump, the restore and the smoke queries are real.
"""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import trustme

from opsbook.auth.roles import Principal, Role
from opsbook.auth.tokens import create_token
from opsbook.backups.assess import next_time
from opsbook.checks.kinds.postgres import libpq_dsn
from opsbook.clock import FakeClock
from opsbook.pipeline import Pipeline
from opsbook.secrets import service as secrets
from opsbook.web.app import create_app
from tests.e2e.conftest import eventually
from tests.notify.conftest import Receiver
from tests.support import make_runtime, serving

TOKEN = "db-nightly-ping-token-0123"
ANA = Principal("ana", Role.RESPONDER, "test")


@pytest.fixture
def shop(pg_url: str) -> Any:
    """The production database the nightly job backs up: 1,500 customers and a fresh order."""
    name = f"shop_{uuid.uuid4().hex[:8]}"
    admin = libpq_dsn(pg_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    dsn = admin.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE customers (id serial PRIMARY KEY, email text NOT NULL)")
        conn.execute("INSERT INTO customers (email) SELECT 'c' || g || '@example.com' "
                     "FROM generate_series(1, 1500) g")
        conn.execute("CREATE TABLE orders (id serial PRIMARY KEY, "
                     "placed_at timestamptz NOT NULL DEFAULT now())")
        conn.execute("INSERT INTO orders DEFAULT VALUES")
    yield dsn
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def web_tls(tmp_path: Path) -> AsyncIterator[tuple[int, str, datetime]]:
    """A TLS server on 127.0.0.1 whose certificate for localhost expires in 13 days (real time)."""
    now = datetime.now(UTC).replace(microsecond=0)
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", not_before=(now - timedelta(days=77)).replace(tzinfo=None),
                         not_after=(now + timedelta(days=13)).replace(tzinfo=None))
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)

    async def hang_up(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0, ssl=context)
    try:
        yield server.sockets[0].getsockname()[1], str(ca_file), now
    finally:
        server.close()
        await server.wait_closed()


def config(receiver: Receiver, pg_url: str, dumps: Path, tls_port: int, ca_file: str, drill_day: int) -> str:
    return f"""
title: Acme
timezone: UTC
grouping: {{window: 0s}}
users:
  - {{name: ana, contacts: [{{url: "{receiver.url("/ana")}"}}]}}
channels:
  - {{name: team, url: "{receiver.url("/team")}"}}
routing:
  P3: {{action: notify, channels: [team]}}
services:
  - name: web
    checks:
      - name: certificate
        kind: tls
        host: 127.0.0.1
        port: {tls_port}
        server_name: localhost
        ca_file: "{ca_file}"
        interval: 6h
        failures: 0
        rules:
          - {{name: cert-expiry, when: "days_left < 14", severity: P3,
              summary: "TLS certificate of web expires in {{{{ value }}}} days"}}
backups:
  - name: db-nightly
    component: shop database
    schedule: "0 2 * * *"
    rpo: 26h
    rto: 10m
    heartbeat: {{token: {TOKEN}, grace: 1h}}
    drill:
      schedule: "0 4 * * {drill_day}"
      postgres: {{dsn: "{pg_url}", dump: "{dumps}/shop-*.dump"}}
      smoke:
        - {{name: customers restored, sql: "select count(*) from customers", min: 1000}}
        - {{name: orders fresh, sql: "select max(placed_at) > now() - interval '1 day' from orders"}}
secrets:
  - name: jwt-signing-key
    owner: ana
    protects: API sessions
    every: 90d
"""


async def test_the_drills_nobody_does(
    sqlite_engine: Any, pg_url: str, shop: str, receiver: Receiver, web_tls: tuple[int, str, datetime],
    tmp_path: Path,
) -> None:
    tls_port, ca_file, start = web_tls
    clock = FakeClock(start)
    first_night = next_time("0 2 * * *", "UTC", start)
    drill_at = first_night + timedelta(days=1, hours=2)  # the second night's 04:00, a weekly drill
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    runtime = make_runtime(sqlite_engine, clock, config(receiver, pg_url, dumps, tls_port, ca_file,
                                                      (drill_at.weekday() + 1) % 7))
    secrets.record_rotation(runtime, ANA, "jwt-signing-key", at=start - timedelta(days=91))
    with runtime.sessions.begin() as s:
        token = create_token(s, "viewer", Role.VIEWER, start)
    pipeline = Pipeline(runtime)

    async def deliver() -> None:
        await pipeline.writer.flush()
        await pipeline.notifier.run_once()

    def titles(path: str) -> list[str]:
        return [str(b.get("title", "")) for b in receiver.bodies(path)]

    async def night(http: httpx.AsyncClient, n: int) -> None:
        """The nightly job: ping start at 02:00, a real pg_dump, ping done 4 minutes later with the size."""
        await clock.advance(first_night + timedelta(days=n) - clock.now())
        assert (await http.get(f"/ping/{TOKEN}/start")).json() == {"status": "started"}
        dump = dumps / f"shop-{clock.now():%Y-%m-%d}.dump"
        subprocess.run(["pg_dump", "--format=custom", f"--file={dump}", f"--dbname={shop}"], check=True)
        await clock.advance(timedelta(minutes=4))
        done = await http.post(f"/ping/{TOKEN}?size={dump.stat().st_size}", content="backup done")
        assert done.json() == {"status": "ok"}
        await deliver()

    async with serving(create_app(runtime, pipeline)) as base, httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {token}"}
    ) as http:
        # at once: the JWT secret, 91 days old against 90, is overdue; the certificate has 13 days left
        async def alert(rule: str) -> dict[str, Any] | None:
            found = [a for a in (await http.get("/api/v1/alerts")).json() if a["rule"] == rule]
            return found[0] if found and found[0]["state"] == "firing" else None

        async def both_fired() -> bool:
            await deliver()
            return await alert("rotation-overdue") is not None and await alert("cert-expiry") is not None

        await eventually(both_fired, "the overdue secret and the expiring certificate")
        jwt = await alert("rotation-overdue")
        assert jwt is not None and jwt["severity"] == "P2" and jwt["check_id"] == "secrets/jwt-signing-key"
        cert = await alert("cert-expiry")
        assert cert is not None and cert["severity"] == "P3" and 12.9 < cert["value"] <= 13
        await eventually(lambda: any("[P3]" in t and "web/certificate" in t for t in titles("/team")),
                         "the P3 certificate notification")
        await eventually(lambda: any("[P2]" in t and "jwt-signing-key" in t for t in titles("/team")),
                         "the overdue secret's alert to the team")
        await eventually(lambda: any("secret jwt-signing-key rotation overdue" in t for t in titles("/ana")),
                         "the owner told")
        told = next(b for b in receiver.bodies("/ana") if "rotation overdue" in str(b.get("title")))
        assert "91 days ago" in told["message"]
        assert "opsbook secret rotated jwt-signing-key" in told["message"]

        # two nights of backups, pinged by the job
        await night(http, 0)
        await night(http, 1)
        job = (await http.get("/api/v1/backups/db-nightly")).json()
        seen = [(b["source"], b["ok"], b["duration_s"]) for b in job["backups"]]
        assert seen == [("heartbeat", True, 240.0)] * 2
        assert job["backups"][0]["size_bytes"] == (dumps / f"shop-{clock.now():%Y-%m-%d}.dump").stat().st_size
        assert job["dr"]["verdict"] == "not drilled yet" and job["dr"]["rpo_now_s"] == 0

        # 04:00 on the drill day: opsbook restores the newest dump into a scratch database and drills it
        await clock.advance(drill_at - clock.now())

        async def drilled() -> bool:
            await deliver()
            return bool((await http.get("/api/v1/backups/db-nightly")).json()["drills"])

        await eventually(drilled, "the weekly drill", limit=60)
        job = (await http.get("/api/v1/backups/db-nightly")).json()
        [drill] = job["drills"]
        assert drill["ok"] and drill["trigger"] == "schedule" and drill["operator"] == "opsbook"
        assert drill["restored"].endswith(f"shop-{(drill_at - timedelta(hours=2)):%Y-%m-%d}.dump")
        assert drill["scratch_dropped"] and 0 < drill["rto_s"] < drill["rto_target_s"] == 600
        assert "smoke: customers restored: ok" in drill["output"]
        with psycopg.connect(libpq_dsn(pg_url), autocommit=True) as conn:
            left = conn.execute("SELECT datname FROM pg_database WHERE datname = %s", (drill["scratch"],))
            assert left.fetchone() is None
        [dr] = (await http.get("/api/v1/backups")).json()
        assert (dr["component"], dr["verdict"], dr["last_rto_s"]) == ("shop database", "ok", drill["rto_s"])
        assert dr["rto_target_s"] == 600 and dr["rpo_target_s"] == 26 * 3600 and dr["rpo_now_s"] < 3 * 3600
        entries = (await http.get("/api/v1/oplog")).json()
        entry = next(e for e in entries if e["id"] == drill["oplog_id"])
        assert entry["operation"] == "Restore drill of db-nightly (shop database): passed"
        assert "against a target of 10m" in entry["impact"]
        assert await alert("drill-failed") is None and await alert("rto") is None
