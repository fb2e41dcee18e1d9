"""The `command` check kind with real subprocesses: exit codes, output tails, timeouts killing the group."""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import psutil
import pytest
from pydantic import ValidationError

from opsbook.checks.kinds.command import CommandCheck
from opsbook.checks.kinds.probes.command import probe, tail_text
from opsbook.checks.result import Status
from opsbook.checks.spec import RunContext
from opsbook.clock import FakeClock, SystemClock

CTX = RunContext(clock=SystemClock())


def check(command: str | list[str], **fields: Any) -> CommandCheck:
    return CommandCheck.model_validate({"kind": "command", "name": "cmd", "command": command, **fields})


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


async def all_gone(pids: list[int]) -> bool:
    """True once none of the pids runs; orphans are reaped by init, so allow it a moment."""
    for _ in range(500):
        if not any(alive(pid) for pid in pids):
            return True
        await asyncio.sleep(0.01)
    return False


# The leader writes its pid, starts `sh -c 'sleep 60 & sleep 60'` whose shell and background sleep write
# theirs: a child and a grandchild that must die with the group.
FAMILY = (
    "echo $$ > leader.pid; "
    "sh -c 'echo $$ > child.pid; sleep 60 & echo $! > grandchild.pid; sleep 60'; "
    "echo never reached"
)


def read_pids(folder: Path) -> list[int]:
    return [int((folder / f"{n}.pid").read_text()) for n in ("leader", "child", "grandchild")]


async def pids_written(folder: Path) -> list[int]:
    for _ in range(1000):
        try:
            return read_pids(folder)
        except (OSError, ValueError):
            await asyncio.sleep(0.01)
    pytest.fail("the command never wrote its pids")


async def test_exit_0_is_up_with_output() -> None:
    result = await probe(check("echo hello; echo world >&2"), CTX)
    assert result.status is Status.UP
    assert result.message == "exit 0; output:\nhello\nworld"
    assert result.latency_ms is not None and result.latency_ms > 0


async def test_exit_1_is_down_with_the_tail_of_the_output() -> None:
    result = await probe(check("for i in $(seq 1 100); do echo line $i; done; echo oops >&2; exit 1"), CTX)
    assert result.status is Status.DOWN
    assert result.message.startswith("exit 1 (expected 0); output:\n")
    lines = result.message.split("\n")[1:]
    assert len(lines) == 20
    assert lines[0] == "line 82" and lines[-2] == "line 100" and lines[-1] == "oops"


async def test_silent_failure_says_no_output() -> None:
    result = await probe(check("exit 3"), CTX)
    assert result.status is Status.DOWN
    assert result.message == "exit 3 (expected 0); no output"


async def test_huge_output_is_capped_to_its_tail() -> None:
    result = await probe(check("head -c 3000000 /dev/zero | tr '\\0' x; echo; echo the end; exit 2"), CTX)
    assert result.status is Status.DOWN
    assert result.message.endswith("\nthe end")
    assert len(result.message.encode()) < 2048 + 100


async def test_argv_list_and_expected_exit_codes() -> None:
    code = "import sys; print('argv', sys.argv[1:]); sys.exit(3)"
    result = await probe(check([sys.executable, "-c", code, "a b", "$HOME"], expect_exit=[0, 3]), CTX)
    assert result.status is Status.UP
    assert "argv ['a b', '$HOME']" in result.message  # no shell: no splitting, no expansion
    result = await probe(check([sys.executable, "-c", code], expect_exit=0), CTX)
    assert result.status is Status.DOWN
    assert result.message.startswith("exit 3 (expected 0)")


async def test_cwd_and_env(tmp_path: Path) -> None:
    result = await probe(check("pwd; echo $GREETING", cwd=str(tmp_path), env={"GREETING": "bonjour"}), CTX)
    assert result.status is Status.UP
    assert result.message == f"exit 0; output:\n{tmp_path}\nbonjour"


async def test_secret_looking_env_values_are_masked() -> None:
    c = check("echo using $API_TOKEN; exit 1", env={"API_TOKEN": "tok-Very-Secret-42"})
    result = await probe(c, CTX)
    assert result.status is Status.DOWN
    assert "tok-Very-Secret-42" not in result.message
    assert "using ***" in result.message
    assert c.secrets() == ["tok-Very-Secret-42"]


async def test_dsn_passwords_in_output_are_masked() -> None:
    result = await probe(check("echo connecting to postgresql://app:Hunter-22@db/app; exit 1"), CTX)
    assert "Hunter-22" not in result.message
    assert "postgresql://app:***@db/app" in result.message


async def test_missing_program_is_down() -> None:
    result = await probe(check(["/nonexistent/program"]), CTX)
    assert result.status is Status.DOWN
    assert result.message.startswith("cannot start /nonexistent/program:")


async def test_killed_by_a_signal_is_down() -> None:
    result = await probe(check("kill -TERM $$"), CTX)
    assert result.status is Status.DOWN
    assert result.message.startswith("killed by SIGTERM (expected 0)")


async def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    result = await probe(check(FAMILY, cwd=str(tmp_path), timeout="1s"), CTX)
    assert result.status is Status.DOWN
    assert result.message.startswith("timed out after 1s, process group killed")
    pids = read_pids(tmp_path)
    assert await all_gone(pids), [p for p in pids if alive(p)]


async def test_timeout_follows_the_injected_clock(tmp_path: Path, clock: FakeClock) -> None:
    task = asyncio.create_task(
        probe(check(FAMILY, cwd=str(tmp_path), timeout="30s"), RunContext(clock=clock))
    )
    pids = await pids_written(tmp_path)
    await clock.advance(timedelta(seconds=29))
    assert not task.done()
    assert all(alive(pid) for pid in pids)
    await clock.advance(timedelta(seconds=1))
    result = await asyncio.wait_for(task, 10)
    assert result.status is Status.DOWN
    assert result.message == "timed out after 30s, process group killed"
    assert await all_gone(pids), [p for p in pids if alive(p)]


async def test_timeout_message_carries_the_output_so_far(tmp_path: Path, clock: FakeClock) -> None:
    task = asyncio.create_task(
        probe(
            check("echo waiting for pods; touch started; sleep 60", cwd=str(tmp_path), timeout="5s"),
            RunContext(clock=clock),
        )
    )
    for _ in range(1000):
        if (tmp_path / "started").exists():
            break
        await asyncio.sleep(0.01)
    await clock.advance(timedelta(seconds=5))
    result = await asyncio.wait_for(task, 10)
    assert result.message == "timed out after 5s, process group killed; output:\nwaiting for pods"


async def test_cancelling_the_run_kills_the_group(tmp_path: Path) -> None:
    task = asyncio.create_task(probe(check(FAMILY, cwd=str(tmp_path), timeout="60s"), CTX))
    pids = await pids_written(tmp_path)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await all_gone(pids)


def test_tail_text() -> None:
    assert tail_text(b"a\nb\nc\n", lines=2) == "b\nc"
    assert tail_text(b"") == ""
    assert tail_text(b"x" * 10 + b"\nlast", limit=8) == "last"  # the cut first line is dropped
    assert tail_text("caf\u00e9\n".encode()[:-2]) == "caf\ufffd"  # broken UTF-8 does not raise


def test_empty_command_is_rejected() -> None:
    with pytest.raises(ValidationError, match="the command is empty"):
        check("  ")
    with pytest.raises(ValidationError):
        check([])


def test_target_masks_secrets() -> None:
    c = check(["psql", "postgresql://u:Pw-1234@db/x", "-c", "SELECT 1"])
    assert c.target() == "psql postgresql://u:***@db/x -c SELECT 1"
