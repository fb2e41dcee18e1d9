"""Scenario 2 of SCENARIOS.md, "The slow database", end to end on a fake clock with real latency.

A reporting job holds three queries open on the real PostgreSQL (`SELECT pg_sleep(60)`); the API (an
aiohttp service on 127.0.0.1) answers every request 600 ms late. The API check's p95 stays above
500 ms: the rule `p95(latency_ms) > 500 for 5m` goes pending at the first breaching evaluation and fires
a P1 "API p95 > 500 ms" alert at exactly 5 minutes of breach. At the same time the `postgres` check
(`measure: [connections, long_queries]`, `long_query_threshold: 1s`) reports the 3 long queries and the
share of connections in use, and `long_queries >= 3` fires. The responder reads the database check's
latest measurements and runs the "Database is slow" runbook: its SQL steps run against the configured
database, list the long-running queries with their durations and cancel them; the output lands in the
operations log and the incident's timeline. The queries are gone at the next check and the alerts
resolve once the API is fast again.

Time: the scenario's minutes are a FakeClock's; the latencies are real (the API really waits 600 ms,
PostgreSQL really runs the queries), so the test takes a few seconds of real time.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from aiohttp import web
from sqlalchemy import Engine

from opsbook.auth.roles import Principal, Role
from opsbook.auth.tokens import create_token
from opsbook.checks.kinds.postgres import libpq_dsn
from opsbook.clock import FakeClock
from opsbook.incidents import queries as incidents
from opsbook.pipeline import Pipeline
from opsbook.runbooks.service import find_procedure, start_run, take_step
from opsbook.web.app import create_app
from tests.e2e.conftest import eventually
from tests.notify.conftest import Receiver
from tests.support import make_runtime, serving

START = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)
SLOW = 0.6  # seconds the API really takes per request while the database is busy
JOB = "reporting-job"  # application_name of the connections that hold the long queries

RUNBOOK = f"""# Database runbook

## Troubleshooting

### "Database is slow"

**Checklist:**
```
☐ Check database CPU and memory usage
☐ Look at slowest queries in monitoring
```

**Find the slow queries:**
```sql
-- Long-running queries, longest first
SELECT application_name, date_trunc('second', now() - query_start) AS running_for, query
FROM pg_stat_activity
WHERE state = 'active' AND now() - query_start > interval '1 second'
ORDER BY running_for DESC;
-- Connections in use
SELECT count(*) AS connections_used, current_setting('max_connections') AS max_connections
FROM pg_stat_activity WHERE backend_type = 'client backend';
```

**Kill any long-running queries:**
```sql
-- Cancel the reporting job's queries
SELECT pid, pg_cancel_backend(pid) AS cancelled FROM pg_stat_activity
WHERE application_name = '{JOB}' AND state = 'active';
```
"""


@dataclass
class SlowApi:
    """An HTTP API on 127.0.0.1 whose /health answers 200 after `delay` real seconds."""

    port: int = 0
    delay: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/health"


@pytest.fixture
async def slow_api() -> AsyncIterator[SlowApi]:
    state = SlowApi()

    async def health(_request: web.Request) -> web.Response:
        await asyncio.sleep(state.delay)  # the API's own work, waiting on the database
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/health", health)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server: Any = site._server
    state.port = server.sockets[0].getsockname()[1]
    try:
        yield state
    finally:
        await runner.cleanup()


class ReportingJob:
    """Three connections of a reporting job, each running `SELECT pg_sleep(60)` until cancelled."""

    def __init__(self, dsn: str, queries: int = 3) -> None:
        self.dsn = dsn
        self.queries = queries
        self.connections: list[psycopg.AsyncConnection[Any]] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.cancelled = 0

    async def start(self) -> None:
        for _ in range(self.queries):
            conn = await psycopg.AsyncConnection.connect(self.dsn, autocommit=True, application_name=JOB)
            self.connections.append(conn)
            self.tasks.append(asyncio.create_task(self._query(conn)))

    async def _query(self, conn: psycopg.AsyncConnection[Any]) -> None:
        try:
            await conn.execute("SELECT pg_sleep(60)")
        except psycopg.errors.QueryCanceled:
            self.cancelled += 1

    async def running_longer_than(self, seconds: float) -> int:
        """How many of the job's queries PostgreSQL has been running for longer than `seconds`."""
        async with await psycopg.AsyncConnection.connect(self.dsn, autocommit=True) as conn:
            while True:
                cur = await conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND state = 'active'"
                    " AND clock_timestamp() - query_start > make_interval(secs => %s)",
                    (JOB, seconds),
                )
                row = await cur.fetchone()
                count = int(row[0]) if row else 0
                if count == self.queries:
                    return count
                await asyncio.sleep(0.05)  # real time: PostgreSQL measures the queries' age on its clock

    def finished(self) -> bool:
        return all(t.done() for t in self.tasks)

    async def stop(self) -> None:
        for conn in self.connections:
            with contextlib.suppress(Exception):
                await conn.cancel_safe()
        for task in self.tasks:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 10)
        for conn in self.connections:
            await conn.close()


def config(api: SlowApi, dsn: str, pg_url: str, runbooks: Path, receiver: Receiver) -> str:
    return f"""
title: Acme
timezone: UTC
channels:
  - {{name: ops, url: "{receiver.url("/ops")}"}}
grouping: {{window: 0s}}
runbooks:
  folders: ["{runbooks}"]
  databases: {{main: "{pg_url}"}}
  default_database: main
services:
  - name: api
    rules:
      - name: api-p95
        check: health
        when: "p95(latency_ms) > 500 for 5m"
        severity: P1
        summary: "API p95 > 500 ms"
        runbook: "Database is slow"
    checks:
      - {{name: health, kind: http, url: "{api.url}", interval: 30s, timeout: 5s, failures: 0}}
  - name: db
    checks:
      - name: main
        kind: postgres
        dsn: "{dsn}"
        measure: [connections, long_queries]
        long_query_threshold: 1s
        interval: 1m
        timeout: 5s
        failures: 0
        rules:
          - name: long-queries
            when: "long_queries >= 3"
            severity: P2
            summary: "3+ queries running > 1 s"
"""


async def test_the_slow_database(
    sqlite_engine: Engine, pg_url: str, slow_api: SlowApi, receiver: Receiver, tmp_path: Path
) -> None:
    dsn = libpq_dsn(pg_url)  # the postgres check and psycopg want a libpq DSN
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "database.md").write_text(RUNBOOK)
    clock = FakeClock(START)
    runtime = make_runtime(
        sqlite_engine, clock, config(slow_api, dsn, pg_url, tmp_path / "runbooks", receiver)
    )
    with runtime.sessions.begin() as s:
        token = create_token(s, "responder", Role.RESPONDER, clock.now())
    auth = {"Authorization": f"Bearer {token}"}
    pipeline = Pipeline(runtime)
    job = ReportingJob(dsn)

    def runs_until(elapsed: timedelta) -> int:
        """Check runs by `elapsed`: api/health every 30 s, db/main every minute, both from START."""
        return (elapsed // timedelta(seconds=30) + 1) + (elapsed // timedelta(minutes=1) + 1)

    def probes_done() -> bool:
        return pipeline.scheduler.stats.finished >= runs_until(clock.now() - START)

    async def to(elapsed: timedelta) -> None:
        """Advance the fake clock 30 s at a time to START + elapsed, each time waiting for the probes'
        real I/O (the API's 600 ms, PostgreSQL's answer) and writing their results: rules run there."""
        while clock.now() < START + elapsed:
            await clock.advance(timedelta(seconds=30))
            await eventually(probes_done, "this interval's check runs")
            await pipeline.writer.flush()
            await pipeline.notifier.run_once()

    async def alerts(http: httpx.AsyncClient, **query: str) -> list[dict[str, Any]]:
        answer = await http.get("/api/v1/alerts", params=query, headers=auth)
        assert answer.status_code == 200, answer.text
        return list(answer.json())

    try:
        async with serving(create_app(runtime, pipeline)) as base, httpx.AsyncClient(base_url=base) as http:
            await eventually(lambda: pipeline.scheduler.stats.finished >= 2, "the first runs")
            await pipeline.writer.flush()
            assert await alerts(http) == []  # a fast API, a quiet database

            # the reporting job starts its three heavy queries and the API slows down
            await job.start()
            slow_api.delay = SLOW
            assert await asyncio.wait_for(job.running_longer_than(1.2), 10) == 3

            # +30 s: the first slow answer; p95 of the window is above 500 ms: the rule is pending
            await to(timedelta(seconds=30))
            (p95,) = await alerts(http, service="api")
            assert p95["state"] == "pending" and p95["rule"] == "api-p95"
            assert datetime.fromisoformat(p95["pending_since"]) == START + timedelta(seconds=30)

            # +1 min: the Postgres check sees the three long queries; `long_queries >= 3` fires at once
            await to(timedelta(minutes=1))
            (long_queries,) = await alerts(http, service="db")
            assert long_queries["state"] == "firing" and long_queries["severity"] == "P2"
            assert long_queries["value"] is not None and long_queries["value"] >= 3

            # 4 min 30 s into the breach the p95 alert is still pending: nobody is paged yet
            await to(timedelta(seconds=300))
            (p95,) = await alerts(http, service="api")
            assert p95["state"] == "pending" and p95["fired_at"] is None
            assert not [b for b in receiver.bodies("/ops") if "API p95" in b["title"]]

            # at exactly 5 minutes of breach: a P1 "API p95 > 500 ms" alert, and its page
            await to(timedelta(seconds=330))
            (p95,) = await alerts(http, service="api")
            assert (p95["state"], p95["severity"], p95["summary"]) == ("firing", "P1", "API p95 > 500 ms")
            pending_since = datetime.fromisoformat(p95["pending_since"])
            fired_at = datetime.fromisoformat(p95["fired_at"])
            assert fired_at - pending_since == timedelta(minutes=5)
            assert fired_at == START + timedelta(seconds=330)
            assert p95["value"] > 500 and p95["threshold"] == 500
            await eventually(
                lambda: any("API p95 > 500 ms" in b["title"] for b in receiver.bodies("/ops")), "the P1 page"
            )
            page = next(b for b in receiver.bodies("/ops") if "API p95 > 500 ms" in b["title"])
            assert page["title"].startswith("[P1] FIRING: api/health")
            assert "Database is slow" in page["message"]  # the runbook to follow, with its first steps
            incident = next(
                i for i in (await http.get("/api/v1/incidents", headers=auth)).json() if i["service"] == "api"
            )
            assert incident["severity"] == "P1" and incident["status"] == "triggered"

            # the responder reads the database check's latest measurements (opsbook has no Postgres
            # report page; the check's results carry what it measured)
            answer = await http.get("/api/v1/checks/db/main/results", headers=auth)
            assert answer.status_code == 200, answer.text
            latest = answer.json()[0]
            assert latest["status"] == "up"
            values = latest["values"]
            assert values["long_queries"] >= 3 and values["longest_query_s"] > 1
            assert values["connections_used"] >= 4  # the job's three and the check's own
            assert values["connections_pct"] == round(
                values["connections_used"] / values["connections_max"] * 100, 2
            )
            assert "long-running queries" in latest["message"] and "connections in use" in latest["message"]

            # ... and runs the "Database is slow" runbook against the configured database
            ana = Principal("ana", Role.RESPONDER, "test")
            started = start_run(
                runtime,
                ana,
                find_procedure(runtime, "Database is slow"),
                incident_id=incident["id"],
                reason="API p95 > 500 ms; 3 long-running queries",
            )
            run_id = started.run.id
            kinds = [(st.position, st.kind) for st in started.steps]
            assert [k for _, k in kinds] == ["confirm", "confirm", "sql", "sql", "sql"]
            outputs: dict[int, str] = {}
            for position, kind in kinds:
                action = "done" if kind == "confirm" else "run"
                taken = await take_step(runtime, ana, run_id, position, action)
                assert taken.result.status in ("done", "succeeded"), taken.result
                outputs[position] = taken.result.output
            assert taken.state.run.status == "succeeded"  # the last step closed the run and logged it

            # the long-running queries, with how long they have been running, from the real database
            assert outputs[2].count("SELECT pg_sleep(60)") >= 3
            assert outputs[2].count(JOB) == 3
            durations = re.findall(
                rf"^{JOB}\s+\| (\d+):(\d\d):(\d\d) +\| SELECT pg_sleep\(60\)$", outputs[2], re.M
            )
            assert len(durations) == 3 and "running_for" in outputs[2]
            assert all(
                timedelta(hours=int(h), minutes=int(m), seconds=int(sec)) >= timedelta(seconds=1)
                for h, m, sec in durations
            )
            assert "connections_used | max_connections" in outputs[3]
            assert outputs[4].count("| True") == 3 and "(3 rows)" in outputs[4]
            await eventually(job.finished, "the job's queries to be cancelled")
            assert job.cancelled == 3

            entries = (await http.get("/api/v1/oplog", headers=auth)).json()
            (entry,) = [e for e in entries if e["run_id"] == run_id]
            assert 'Ran runbook procedure "Troubleshooting › Database is slow"' in entry["operation"]
            assert entry["incident_id"] == str(incident["id"]) and entry["operator"] == "ana"
            logged = {step["position"]: step for step in entry["steps"]}
            assert logged[2]["kind"] == "sql" and logged[2]["status"] == "succeeded"
            assert logged[2]["output"].count("SELECT pg_sleep(60)") >= 3
            assert "pg_cancel_backend" in logged[4]["command"] and "(3 rows)" in logged[4]["output"]
            with runtime.sessions() as s:
                timeline = incidents.timeline(s, incident["id"])
            assert any(item.source == "oplog" and "Database is slow" in item.message for item in timeline)

            # the queries are gone at the next database check: that alert resolves
            slow_api.delay = 0.0
            await to(timedelta(minutes=6))
            (long_queries,) = await alerts(http, service="db")
            assert long_queries["state"] == "resolved"
            assert datetime.fromisoformat(long_queries["resolved_at"]) == START + timedelta(minutes=6)

            # the API is fast again from +6 min; p95 of the last 5 minutes drops below 500 ms once only
            # one slow answer is left among its ten (+10 min: +5m30s slow, +6m ... +10m fast)
            await to(timedelta(seconds=570))
            assert (await alerts(http, service="api"))[0]["state"] == "firing"  # still two slow of ten
            await to(timedelta(minutes=10))
            (p95,) = await alerts(http, service="api")
            assert p95["state"] == "resolved" and p95["value"] < 500
            assert datetime.fromisoformat(p95["resolved_at"]) == START + timedelta(minutes=10)
            await eventually(
                lambda: any("RESOLVED: api/health" in b["title"] for b in receiver.bodies("/ops")),
                "the resolved message",
            )
    finally:
        await job.stop()
