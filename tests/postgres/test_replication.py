"""Replication lag, on a real streaming replica: `pg_basebackup -R` from the throwaway server into a
folder of this test, started as a hot standby on another port. The primary's check counts one replica
and its lag; the replica's check says it is a replica and how far behind its last replayed transaction is.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from opsbook.checks.kinds.postgres import PostgresCheck, libpq_dsn
from opsbook.checks.kinds.probes.postgres import probe
from opsbook.checks.spec import RunContext
from opsbook.clock import SystemClock
from tests.support import free_port

BIN = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
ROOT = os.geteuid() == 0


def _as_postgres(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if ROOT else args


LOGS: list[Path] = []
"""The standby's server log, for the message of a failed assertion."""


def standby_log() -> str:
    return "\n".join(LOGS[0].read_text().splitlines()[-15:]) if LOGS and LOGS[0].exists() else ""


@pytest.fixture(scope="module")
def replica(pg_url: str) -> Iterator[str]:
    if not BIN:
        pytest.skip("no PostgreSQL binaries")
    bin_dir = BIN[-1]
    primary = urlsplit(libpq_dsn(pg_url))
    folder = Path(tempfile.mkdtemp(prefix="opsbook-replica-"))
    data = folder / "data"
    if ROOT:
        shutil.chown(folder, "postgres")
    port = free_port()
    subprocess.run(_as_postgres([str(bin_dir / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port),
                                 "-U", "postgres", "-D", str(data), "-R", "-X", "stream"]),
                   check=True, capture_output=True)
    with psycopg.connect(libpq_dsn(pg_url)) as conn:  # a standby needs at least the primary's
        row = conn.execute("SELECT current_setting('max_connections')").fetchone()
    assert row is not None
    options = (f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c hot_standby=on "
               f"-c max_connections={row[0]}")
    subprocess.run(_as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"), "-w",
                                 "-t", "60", "-o", options, "start"]), check=True, capture_output=True)
    LOGS[:] = [folder / "log"]
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                       check=False, capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def check(dsn: str) -> PostgresCheck:
    return PostgresCheck.model_validate(
        {"kind": "postgres", "name": "db", "dsn": dsn, "measure": ["replication"]}
    )


async def test_replication_lag_on_both_sides(pg_url: str, replica: str) -> None:
    ctx = RunContext(clock=SystemClock())
    deadline = time.monotonic() + 60  # the standby replays what the other tests' databases wrote first
    primary = await probe(check(libpq_dsn(pg_url)), ctx)
    while primary.values.get("replicas", 0) < 1 and time.monotonic() < deadline:
        primary = await probe(check(libpq_dsn(pg_url)), ctx)  # until the standby has connected (real time)
    assert primary.ok and primary.values["replicas"] >= 1, standby_log()
    assert primary.values["replication_lag_s"] >= 0 and primary.values["replication_lag_bytes"] >= 0
    with psycopg.connect(libpq_dsn(pg_url), autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS replicated (x int)")
        conn.execute("INSERT INTO replicated VALUES (1)")
    standby = await probe(check(replica), ctx)
    assert standby.ok, standby.message
    assert "replicas" in standby.values and standby.values["replicas"] == 0  # a standby has none of its own
    assert standby.values["replication_lag_s"] >= 0
