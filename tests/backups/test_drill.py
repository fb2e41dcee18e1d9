"""Restore drills against the tests' throwaway PostgreSQL: a real pg_dump of a source database with data,
restored into a scratch database that opsbook creates and drops, with smoke queries and a measured RTO."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from opsbook.backups.config import BackupJob, SmokeQuery
from opsbook.backups.drill import judge, run_drill
from opsbook.checks.kinds.postgres import libpq_dsn


def _admin(pg_url: str) -> str:
    return libpq_dsn(pg_url)


def _databases(pg_url: str, prefix: str) -> list[str]:
    with psycopg.connect(_admin(pg_url), autocommit=True) as conn:
        query = "SELECT datname FROM pg_database WHERE datname LIKE %s"
        rows = conn.execute(query, (prefix + "%",)).fetchall()
    return [r[0] for r in rows]


@pytest.fixture
def source(pg_url: str) -> Iterator[str]:
    """A source database with 1,200 users and a fresh order, as the backup job's database."""
    name = f"shop_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(_admin(pg_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    dsn = _admin(pg_url).rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL)")
        conn.execute("INSERT INTO users (email) SELECT 'u' || g || '@example.com' "
                     "FROM generate_series(1, 1200) g")
        conn.execute("CREATE TABLE orders (id serial PRIMARY KEY, "
                     "created_at timestamptz NOT NULL DEFAULT now())")
        conn.execute("INSERT INTO orders DEFAULT VALUES")
    yield dsn
    with psycopg.connect(_admin(pg_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pg_dump(dsn: str, out: Path, fmt: str = "custom") -> Path:
    """The backup job: a real pg_dump of the source database."""
    subprocess.run(["pg_dump", f"--format={fmt}", f"--file={out}", f"--dbname={dsn}"], check=True)
    return out


def job(pg_url: str, dump: str, smoke: list[object], name: str = "shop-nightly") -> BackupJob:
    return BackupJob.model_validate({
        "name": name, "component": "shop-db", "schedule": "0 2 * * *", "rto": "1h", "heartbeat": {},
        "drill": {"schedule": "0 4 * * 0", "postgres": {"dsn": pg_url, "dump": dump}, "smoke": smoke},
    })


SMOKE: list[object] = [
    {"name": "users restored", "sql": "select count(*) from users", "min": 1000},
    {"name": "orders fresh", "sql": "select max(created_at) > now() - interval '1 day' from orders"},
    {"sql": "select true"},
]


def test_a_drill_restores_the_dump_runs_the_smoke_queries_and_measures_the_rto(
    pg_url: str, source: str, tmp_path: Path
) -> None:
    pg_dump(source, tmp_path / "shop-2026-03-01.dump")
    outcome = run_drill(job(pg_url, str(tmp_path / "shop-*.dump"), SMOKE), str)
    assert outcome.ok, outcome.output
    assert outcome.error == ""
    assert outcome.restored == str(tmp_path / "shop-2026-03-01.dump")
    assert outcome.rto_s is not None and outcome.rto_s > 0
    names = [s["name"] for s in outcome.steps]
    assert names[0].startswith("create scratch database opsbook_drill_shop_nightly_")
    assert names[1] == "pg_restore shop-2026-03-01.dump"
    assert names[2:5] == ["smoke: users restored", "smoke: orders fresh", "smoke: select true"]
    assert "value 1200; 1200 >= 1000" in outcome.steps[2]["output"]
    assert outcome.scratch_dropped and _databases(pg_url, outcome.scratch) == []


def test_a_plain_sql_dump_is_restored_with_psql(pg_url: str, source: str, tmp_path: Path) -> None:
    pg_dump(source, tmp_path / "shop.sql", fmt="plain")
    outcome = run_drill(job(pg_url, str(tmp_path / "shop.sql"), SMOKE[:1]), str)
    assert outcome.ok, outcome.output
    assert outcome.steps[1]["name"] == "psql -f shop.sql"
    assert _databases(pg_url, outcome.scratch) == []


def test_a_corrupted_dump_fails_with_the_restores_error_and_the_scratch_database_is_gone(
    pg_url: str, source: str, tmp_path: Path
) -> None:
    dump = pg_dump(source, tmp_path / "shop.dump")
    data = bytearray(dump.read_bytes())
    data[len(data) // 2:] = b"\x00garbage" * (len(data[len(data) // 2:]) // 8 + 1)  # truncated, overwritten
    dump.write_bytes(bytes(data))
    outcome = run_drill(job(pg_url, str(dump), SMOKE), str)
    assert not outcome.ok
    assert outcome.error.startswith("restore failed (exit code 1): ")
    assert "pg_restore: error:" in outcome.error
    assert outcome.rto_s is None
    assert [s["name"] for s in outcome.steps][-1].startswith("drop scratch database")
    assert outcome.scratch_dropped and _databases(pg_url, outcome.scratch) == []


def test_a_smoke_query_returning_false_fails_the_drill(pg_url: str, source: str, tmp_path: Path) -> None:
    pg_dump(source, tmp_path / "shop.dump")
    smoke = [*SMOKE, {"name": "a million users", "sql": "select count(*) >= 1000000 from users"}]
    outcome = run_drill(job(pg_url, str(tmp_path / "shop.dump"), smoke), str)
    assert not outcome.ok
    assert outcome.error == "smoke query 'a million users' returned False, not true"
    assert _databases(pg_url, outcome.scratch) == []


def test_a_smoke_query_below_its_floor_or_failing_fails_the_drill(
    pg_url: str, source: str, tmp_path: Path
) -> None:
    pg_dump(source, tmp_path / "shop.dump")
    smoke = [{"name": "users", "sql": "select count(*) from users", "min": 5000},
             {"name": "no such table", "sql": "select count(*) from invoices"}]
    outcome = run_drill(job(pg_url, str(tmp_path / "shop.dump"), smoke), str)
    assert not outcome.ok
    assert outcome.error == "smoke query 'users' returned 1200, below the floor 5000"
    assert 'relation "invoices" does not exist' in outcome.steps[3]["output"]
    assert _databases(pg_url, outcome.scratch) == []


def test_no_dump_file_fails_without_creating_anything(pg_url: str, tmp_path: Path) -> None:
    outcome = run_drill(job(pg_url, str(tmp_path / "none-*.dump"), SMOKE), str)
    assert not outcome.ok and outcome.error == f"no dump file matches {str(tmp_path / 'none-*.dump')!r}"
    assert outcome.scratch == "" and outcome.steps == []


def test_a_command_drill_runs_its_cleanup_whatever_happens(tmp_path: Path) -> None:
    marker = tmp_path / "cleaned"
    failing = BackupJob.model_validate({
        "name": "files", "component": "uploads", "schedule": "@daily", "heartbeat": {},
        "drill": {"schedule": "@weekly", "command": "echo restoring into $OPSBOOK_DRILL_NAME; exit 3",
                  "cleanup": f"touch {marker}"},
    })
    outcome = run_drill(failing, str)
    assert not outcome.ok
    assert outcome.error.startswith("restore failed (exit code 3): restoring into opsbook_drill_files_")
    assert marker.exists() and outcome.scratch_dropped


@pytest.mark.parametrize(("value", "floor", "ok"), [
    (True, None, True), (False, None, False), (None, None, False), (1, None, False),
    (1200, 1000, True), (999, 1000, False), ("12", 10, True), ("x", 1, False), (True, 1, False),
])
def test_judging_a_smoke_value(value: object, floor: float | None, ok: bool) -> None:
    assert judge(value, SmokeQuery(sql="select 1", min=floor))[0] is ok


def test_a_database_is_dumped_at_the_drill_and_restored(pg_url: str, source: str) -> None:
    live = BackupJob.model_validate({
        "name": "shop-live", "component": "shop-db", "schedule": "0 2 * * *", "heartbeat": {},
        "drill": {"schedule": "0 4 * * 0", "postgres": {"dsn": pg_url, "database": source}, "smoke": SMOKE},
    })
    outcome = run_drill(live, str)
    assert outcome.ok, outcome.output
    assert [s["name"] for s in outcome.steps][:3] == [
        "pg_dump of the database", outcome.steps[1]["name"], "pg_restore shop-live.dump"]
    assert outcome.restored.startswith("a fresh pg_dump of ") and outcome.rto_s is not None
    assert _databases(pg_url, outcome.scratch) == []


def test_a_drill_source_is_a_dump_or_a_database() -> None:
    with pytest.raises(ValueError, match="exactly one of 'dump'"):
        BackupJob.model_validate(
            {"name": "x", "component": "x", "schedule": "@daily", "heartbeat": {},
             "drill": {"schedule": "@weekly", "postgres": {"dsn": "postgresql://x@127.0.0.1/postgres"}}})
