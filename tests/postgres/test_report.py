"""The postgres check's measurements and `opsbook pg report` against a database in trouble (real
PostgreSQL): the bloated table, the unused and the duplicate index, the seq-scanned table, the query past
the threshold, the blocked one and its blocker, the hot query; rules on each fire."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from opsbook.alerts.service import AlertEngine
from opsbook.auth.roles import Principal, Role
from opsbook.checks.kinds.postgres import PostgresCheck
from opsbook.checks.kinds.probes.postgres import probe
from opsbook.checks.result import StoredResult
from opsbook.checks.spec import RunContext
from opsbook.checks.store import write_batch
from opsbook.clock import FakeClock, SystemClock
from opsbook.postgres import service
from tests.postgres.conftest import HOT, JOB, Troubled
from tests.support import make_runtime

NOW = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)
VIEWER = Principal("vic", Role.VIEWER)

RULES = {
    "bloat": "dead_pct:public.bloated > 50",
    "unused": "unused_indexes >= 2",
    "duplicate": "duplicate_indexes >= 1",
    "seqscan": "seq_scan_tables >= 1",
    "long": "long_queries >= 1",
    "blocked": "blocked_queries >= 1",
    "hot": "top_query_share_pct > 50",
}


def config(dsn: str) -> str:
    rules = "\n".join(
        f'      - {{name: {name}, when: "{when}", severity: P3}}' for name, when in RULES.items()
    )
    return f"""
services:
  - name: db
    checks:
      - name: main
        kind: postgres
        dsn: "{dsn}"
        measure: [all]
        seq_scan_min_rows: 10000
        failures: 0
    rules:
{rules}
"""


async def test_the_check_measures_each_problem_and_the_rules_fire(
    trouble: Troubled, sqlite_engine: Engine
) -> None:
    runtime = make_runtime(sqlite_engine, FakeClock(NOW), config(trouble.dsn))
    spec = runtime.config.checks()["db/main"]
    assert isinstance(spec, PostgresCheck)
    ctx = RunContext(clock=SystemClock())
    first = await probe(spec, ctx)  # statements' counters remembered
    import psycopg

    with psycopg.connect(trouble.dsn, autocommit=True) as conn:  # the hot query runs again
        for i in range(200):
            conn.execute(HOT, (i,))
    second = await probe(spec, ctx)
    assert first.ok and second.ok, second.message
    v = second.values
    assert v["dead_pct:public.bloated"] == pytest.approx(75, abs=1)
    assert v["unused_indexes"] >= 2  # orders_note and one of the two customer indexes
    assert v["duplicate_indexes"] == 1
    assert v["seq_scan_tables"] >= 1
    assert v["long_queries"] >= 1 and v["longest_query_s"] > 1
    assert v["blocked_queries"] == 1 and v["blocking_sessions"] == 1
    assert v["top_query_share_pct"] > 50 and v["top_query_ms"] > 0
    assert 0 < v["cache_hit_pct"] <= 100 and v["xid_age"] > 0 and v["database_bytes"] > 0
    assert v[f"connections_app:{JOB}"] == 1 and v["connections_state:active"] >= 2
    assert "pg_sleep(?)" in second.message  # the longest query, literals masked

    with runtime.sessions.begin() as session:
        write_batch(session, [StoredResult("db/main", NOW, second)])
        transitions = AlertEngine(runtime.config).process(session, ["db/main"], NOW)
    fired = {t.rule for t in transitions if t.kind.value == "fired"}
    assert fired == set(RULES)


async def test_the_report_finds_each_problem(trouble: Troubled, sqlite_engine: Engine) -> None:
    clock = FakeClock(NOW)
    runtime = make_runtime(sqlite_engine, clock, config(trouble.dsn))
    spec = service.databases(runtime)["db/main"]
    # the start of the queries' window
    await asyncio.to_thread(service.store_sample, runtime, "db/main", spec)
    import psycopg

    with psycopg.connect(trouble.dsn, autocommit=True) as conn:
        for i in range(100):
            conn.execute(HOT, (i,))
    await clock.advance(timedelta(hours=1))
    found = await asyncio.to_thread(service.report, runtime, VIEWER, "main", timedelta(hours=1))
    snap = found.snapshot
    bloated = next(t for t in snap["tables"] if t["name"] == "public.bloated")
    assert bloated["dead_pct"] == pytest.approx(75, abs=1)
    assert {"index": "public.orders_customer_again", "covered_by": "public.orders_customer"}.items() <= \
        snap["duplicate_indexes"][0].items()
    assert "public.orders_note" in {i["name"] for i in snap["unused_indexes"]}
    longest = snap["long"]["queries"][0]
    assert longest["app"] == JOB and longest["query"] == "SELECT pg_sleep(?)"
    blocked = snap["blocked"][0]
    assert blocked["query"] == "UPDATE orders SET note = ? WHERE id = ?"
    assert blocked["blockers"][0]["app"] == "migration"
    top = found.queries.queries[0]
    assert top.calls == 100 and "customer = $1" in top.query  # the window's calls, not since reset
    own = [q.query for q in found.queries.queries if "pg_stat_" in q.query or "pg_class" in q.query]
    assert own == []  # opsbook's own catalog queries are not the application's


def test_pg_report_prints_it_in_80_columns(troubled_db: Troubled, tmp_path: Path) -> None:
    cfg = tmp_path / "opsbook.yaml"
    cfg.write_text(config(troubled_db.dsn) + f"database_url: sqlite:///{tmp_path}/o.db\n")
    from opsbook.cli.main import app

    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade", "-c", str(cfg)]).exit_code == 0
    result = runner.invoke(app, ["pg", "report", "main", "-c", str(cfg)], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    out = result.output
    assert max(len(line) for line in out.splitlines()) <= 80
    for expected in ("public.bloated", "orders_customer_again", "orders_note", "public.events", "cache hit"):
        assert expected in out, expected
