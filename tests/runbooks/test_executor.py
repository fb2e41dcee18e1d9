"""Commands run as real subprocesses: output streamed and captured, exit codes, timeouts that kill the
whole process group (grandchildren included), and SQL steps against real databases."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import timedelta
from pathlib import Path

import psutil
import pytest

from opsbook.clock import FakeClock, SystemClock
from opsbook.runbooks.executor import run_shell, run_sql, split_sql


def _gone(pid: int) -> bool:
    """True once `pid` no longer runs (a zombie waiting to be reaped counts as gone)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.02)
    return False


async def test_output_is_streamed_and_captured_with_exit_code() -> None:
    chunks: list[str] = []
    outcome = await run_shell(
        "echo hello; echo oops >&2; exit 3", clock=SystemClock(), timeout=30, on_output=chunks.append
    )
    assert outcome.status == "failed" and outcome.exit_code == 3
    assert outcome.output == "hello\noops\n"
    assert "".join(chunks) == outcome.output
    assert outcome.duration_s >= 0


async def test_success_and_environment() -> None:
    outcome = await run_shell(
        'test "$SECRET_TOKEN" = abc && echo ok',
        clock=SystemClock(),
        timeout=30,
        env={"PATH": "/usr/bin:/bin", "SECRET_TOKEN": "abc"},
    )
    assert (outcome.status, outcome.exit_code, outcome.output) == ("succeeded", 0, "ok\n")


async def test_runaway_command_is_killed_with_its_process_group(clock: FakeClock) -> None:
    seen = asyncio.Event()
    output: list[str] = []

    def on_output(text: str) -> None:
        output.append(text)
        if "\n" in "".join(output):
            seen.set()

    # the shell starts a grandchild shell that starts `sleep 60` and reports its pid
    script = "bash -c 'sleep 60 & echo $!; wait'"
    task = asyncio.ensure_future(
        run_shell(script, clock=clock, timeout=30, on_output=on_output, kill_grace=5)
    )
    await asyncio.wait_for(seen.wait(), 20)
    sleeper = int("".join(output).split()[0])
    assert psutil.pid_exists(sleeper)
    await clock.advance(timedelta(seconds=31))
    outcome = await asyncio.wait_for(task, 20)
    assert outcome.status == "timed_out"
    assert "timed out after 30s" in outcome.message
    assert outcome.duration_s == pytest.approx(31, abs=1)
    assert _gone(sleeper), "the grandchild `sleep 60` survived the timeout"


async def test_a_step_ignoring_sigterm_gets_sigkill(clock: FakeClock) -> None:
    seen = asyncio.Event()
    out: list[str] = []

    def on_output(text: str) -> None:
        out.append(text)
        if re.search(r"inner \d+\n", "".join(out)):
            seen.set()

    # both the shell and its grandchild ignore SIGTERM (SIG_IGN survives exec), so only SIGKILL ends them
    script = "trap '' TERM; bash -c 'trap \"\" TERM; echo inner $$; exec sleep 60' & wait"
    task = asyncio.ensure_future(
        run_shell(script, clock=clock, timeout=10, on_output=on_output, kill_grace=5)
    )
    await asyncio.wait_for(seen.wait(), 20)
    sleeper = int(re.findall(r"inner (\d+)", "".join(out))[0])
    await clock.advance(timedelta(seconds=11))
    assert psutil.pid_exists(sleeper) and not task.done()  # SIGTERM was ignored; the grace period runs
    await clock.advance(timedelta(seconds=6))
    outcome = await asyncio.wait_for(task, 20)
    assert outcome.status == "timed_out"
    assert _gone(sleeper)


def test_split_sql() -> None:
    assert split_sql("SELECT ';' AS x; -- a; comment\nVACUUM ANALYZE;\n") == [
        "SELECT ';' AS x",
        "VACUUM ANALYZE",
    ]


async def test_sql_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/app.db"
    clock = SystemClock()
    created = await run_sql(
        "CREATE TABLE t (id INTEGER, name TEXT); INSERT INTO t VALUES (1, 'a'), (2, 'b');",
        url,
        clock=clock,
        timeout=30,
    )
    assert created.status == "succeeded", created.output
    selected = await run_sql("SELECT id, name FROM t ORDER BY id; VACUUM;", url, clock=clock, timeout=30)
    assert selected.status == "succeeded"
    assert selected.output.splitlines()[:4] == ["id | name", "---+-----", "1  | a", "2  | b"]
    broken = await run_sql("SELECT * FROM missing", url, clock=clock, timeout=30)
    assert broken.status == "failed" and "no such table" in broken.output


async def test_sql_on_postgres_vacuum_runs_outside_a_transaction(pg_url: str) -> None:
    outcome = await run_sql(
        "VACUUM ANALYZE; SELECT 40 + 2 AS answer;", pg_url, clock=SystemClock(), timeout=30
    )
    assert outcome.status == "succeeded", outcome.output
    assert "42" in outcome.output
