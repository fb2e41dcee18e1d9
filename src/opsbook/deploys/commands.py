"""Runs a deploy or rollback command: `/bin/sh -c` in a session of its own, its output handed on line by
line as it comes (live output), the process group killed on timeout (measured by the injected clock).

The child gets the environment every child process of opsbook gets (`redact.child_environment`) plus the
deploy's `env:`; opsbook's own secrets never reach it unless the config passes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from opsbook.clock import Clock
from opsbook.redact import child_environment

MAX_KEPT = 256 * 1024
"""Characters of output kept for the record (the head and the tail of longer output)."""


@dataclass(frozen=True)
class Ran:
    """How a command ended: its exit code (None: killed on timeout or could not start) and its output."""

    exit_code: int | None
    output: str
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _keep(lines: list[str]) -> str:
    text = "".join(lines)
    if len(text) <= MAX_KEPT:
        return text
    half = MAX_KEPT // 2
    return text[:half] + "\n[... output cut ...]\n" + text[-half:]


async def run_command(
    command: str,
    *,
    clock: Clock,
    timeout: float,
    on_line: Callable[[str], None] = lambda _line: None,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
) -> Ran:
    """Run `command` to its end or its timeout; every line of its output goes to `on_line` as it comes."""
    try:
        proc = await asyncio.create_subprocess_exec(
            "/bin/sh",
            "-c",
            command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=cwd,
            env=child_environment(env),
            start_new_session=True,
        )
    except OSError as exc:
        return Ran(None, "", f"cannot start the command: {exc}")
    lines: list[str] = []

    async def read() -> int:
        assert proc.stdout is not None
        async for raw in proc.stdout:
            line = raw.decode("utf-8", errors="replace")
            lines.append(line)
            on_line(line.rstrip("\n"))
        return await proc.wait()

    try:
        code = await clock.wait_for(read(), timeout)
    except TimeoutError:
        _kill_group(proc.pid)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(proc.wait(), 5)
        return Ran(None, _keep(lines), f"timed out after {timeout:g}s: process group killed")
    except BaseException:
        _kill_group(proc.pid)
        raise
    return Ran(code, _keep(lines), "" if code == 0 else f"exit {code}")
