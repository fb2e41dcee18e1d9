"""Runs a `command` check: the process in a session of its own, killed as a group on timeout.

The process starts in a session (and process group) of its own; on timeout the whole group is killed with
SIGKILL, children and grandchildren too, and the result says so. stdout and stderr are read together; the
message ends with their last lines (at most 20 lines / 2 KB), with secrets masked. The timeout is measured
by the injected clock, so tests can drive it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections import deque

from opsbook.checks.kinds.command import CommandCheck
from opsbook.checks.result import CheckResult
from opsbook.checks.spec import RunContext
from opsbook.config.types import format_duration
from opsbook.redact import child_environment, redact

TAIL_LINES = 20
TAIL_BYTES = 2048
REAP_GRACE = 5.0  # seconds to wait for a killed process group's output pipe to close
_KEEP_BYTES = 64 * 1024  # how much of the output is held while reading; only its tail is reported


async def probe(check: CommandCheck, ctx: RunContext) -> CheckResult:
    timeout = check.timeout.total_seconds()
    argv = ["/bin/sh", "-c", check.command] if isinstance(check.command, str) else list(check.command)
    started = time.perf_counter()
    spawn = asyncio.ensure_future(
        asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=check.cwd,
            env=child_environment(check.env),
            start_new_session=True,
        )
    )
    try:
        # Shielded: cancelled half-way, asyncio would kill only the leader and orphan its children.
        proc = await asyncio.shield(spawn)
    except asyncio.CancelledError:
        await _kill_once_spawned(spawn)
        raise
    except OSError as exc:
        return CheckResult.down(redact(f"cannot start {check.target()}: {exc}", check.secrets()))
    output: deque[bytes] = deque()
    try:
        code = await ctx.clock.wait_for(_finish(proc, output), timeout)
    except TimeoutError:
        _kill_group(proc)
        await _reap(proc, ctx)
        tail = _tail(check, output)
        message = f"timed out after {format_duration(check.timeout)}, process group killed"
        return CheckResult.down(message + (f"; output:\n{tail}" if tail else ""))
    except BaseException:
        _kill_group(proc)  # cancelled by the runner: never leave the process behind
        raise
    latency_ms = (time.perf_counter() - started) * 1000
    tail = _tail(check, output)
    if code in check.expected_exits():
        return CheckResult.up(latency_ms, f"exit {code}" + (f"; output:\n{tail}" if tail else ""))
    wanted = " or ".join(str(c) for c in check.expected_exits())
    message = f"{_describe(code)} (expected {wanted})" + (f"; output:\n{tail}" if tail else "; no output")
    return CheckResult.down(message, latency_ms)


def _tail(check: CommandCheck, output: deque[bytes]) -> str:
    return redact(tail_text(b"".join(output)), check.secrets())


async def _finish(proc: asyncio.subprocess.Process, output: deque[bytes]) -> int:
    """Read the combined output to its end (keeping the last _KEEP_BYTES), then the exit code."""
    assert proc.stdout is not None
    kept = 0
    while chunk := await proc.stdout.read(8192):
        output.append(chunk)
        kept += len(chunk)
        while kept - len(output[0]) >= _KEEP_BYTES:
            kept -= len(output.popleft())
    return await proc.wait()


async def _kill_once_spawned(spawn: asyncio.Future[asyncio.subprocess.Process]) -> None:
    try:
        proc = await spawn
    except Exception:
        return  # it never started
    _kill_group(proc)


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    # The child leads its own session, so its process group id is its pid.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


async def _reap(proc: asyncio.subprocess.Process, ctx: RunContext) -> None:
    """Collect the killed child. SIGKILL cannot be ignored, so this is quick unless a process that left
    the group (daemonized) still holds the output pipe: then stop waiting for it after a few seconds."""
    try:
        await ctx.clock.wait_for(proc.wait(), REAP_GRACE)
    except TimeoutError:
        transport = getattr(proc, "_transport", None)
        if transport is not None:
            transport.close()


def _describe(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"killed by {name}"
    return f"exit {code}"


def tail_text(data: bytes, lines: int = TAIL_LINES, limit: int = TAIL_BYTES) -> str:
    """The last `lines` lines of `data`, at most `limit` bytes, decoded leniently, trailing blanks trimmed."""
    text = data[-limit:].decode("utf-8", errors="replace").rstrip()
    if len(data) > limit and "\n" in text:
        text = text.split("\n", 1)[1]  # drop the partial first line
    return "\n".join(text.splitlines()[-lines:])
