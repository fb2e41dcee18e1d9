"""Runs one command step for real: shell steps as a subprocess in a process group of its own, SQL steps
through SQLAlchemy. Output is streamed as it comes (to `on_output`) and captured (the last
`output_limit` characters). A step that outlives its timeout gets SIGTERM to its whole process group,
then SIGKILL after `kill_grace`: grandchildren die with it. Time comes from the injected clock.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import re
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import create_engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from opsbook.clock import Clock

Status = Literal["succeeded", "failed", "timed_out"]
OnOutput = Callable[[str], None]


@dataclass(frozen=True)
class Outcome:
    status: Status
    exit_code: int | None
    output: str
    started_at: datetime
    finished_at: datetime
    message: str = ""

    @property
    def duration_s(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()


class _Capture:
    """Keeps the last `limit` characters of a stream, noting how much was cut."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[str] = []
        self.size = 0
        self.cut = 0

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.size += len(text)
        if self.size > 2 * self.limit:
            joined = "".join(self.parts)
            self.cut += len(joined) - self.limit
            self.parts = [joined[-self.limit :]]
            self.size = self.limit

    def text(self) -> str:
        joined = "".join(self.parts)
        cut = self.cut
        if len(joined) > self.limit:
            cut += len(joined) - self.limit
            joined = joined[-self.limit :]
        return f"[... {cut} characters cut ...]\n{joined}" if cut else joined


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _ignore(_: str) -> None:
    return None


async def _spawn(
    script: str, shell: str, env: Mapping[str, str] | None, cwd: str | None
) -> asyncio.subprocess.Process:
    """`shell -c script` (`/bin/sh` if `shell` is not there) in a new session, stdin closed, stderr merged."""
    if not os.path.exists(shell):
        shell = "/bin/sh"
    return await asyncio.create_subprocess_exec(
        shell,
        "-c",
        script,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=dict(env) if env is not None else None,
        start_new_session=True,
        cwd=cwd,
    )


async def _pump(stdout: asyncio.StreamReader, capture: _Capture, on_output: OnOutput) -> None:
    """Decode the output as it comes, into `capture` and `on_output`, until the pipe closes."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    while True:
        chunk = await stdout.read(4096)
        if not chunk:
            break
        text = decoder.decode(chunk)
        if text:
            capture.add(text)
            on_output(text)
    rest = decoder.decode(b"", final=True)
    if rest:
        capture.add(rest)
        on_output(rest)


async def _wait_or_kill(
    proc: asyncio.subprocess.Process, clock: Clock, timeout: float, kill_grace: float
) -> bool:
    """Wait for the process; past `timeout` SIGTERM its group, past `kill_grace` more SIGKILL it.
    Whether it timed out."""
    try:
        await clock.wait_for(proc.wait(), timeout)
        return False
    except TimeoutError:
        pass
    _killpg(proc.pid, signal.SIGTERM)
    try:
        await clock.wait_for(proc.wait(), kill_grace)
    except TimeoutError:
        _killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
    return True


async def _finish_reading(reader: asyncio.Future[None], clock: Clock) -> None:
    """Give the output reader 2 seconds to reach the end of the pipe, then stop it."""
    try:
        await clock.wait_for(asyncio.shield(reader), 2.0)
    except TimeoutError:
        reader.cancel()


def _shell_outcome(
    code: int | None, timed_out: bool, output: str, started: datetime, finished: datetime, timeout: float,
    pgid: int,
) -> Outcome:
    if timed_out:
        message = f"timed out after {timeout:g}s; process group {pgid} killed"
        return Outcome("timed_out", code, output, started, finished, message)
    status: Status = "succeeded" if code == 0 else "failed"
    return Outcome(status, code, output, started, finished, "" if code == 0 else f"exit code {code}")


async def run_shell(
    script: str,
    *,
    clock: Clock,
    timeout: float,
    shell: str = "/bin/bash",
    env: Mapping[str, str] | None = None,
    on_output: OnOutput = _ignore,
    on_start: Callable[[int], None] | None = None,
    output_limit: int = 65536,
    kill_grace: float = 5.0,
    cwd: str | None = None,
) -> Outcome:
    """Run `script` with `shell -c`, in a new session (so its own process group), stdin closed."""
    started = clock.now()
    proc = await _spawn(script, shell, env, cwd)
    pgid = proc.pid
    if on_start is not None:
        on_start(pgid)
    capture = _Capture(output_limit)
    stdout = proc.stdout
    assert stdout is not None
    reader = asyncio.ensure_future(_pump(stdout, capture, on_output))
    try:
        timed_out = await _wait_or_kill(proc, clock, timeout, kill_grace)
        # Whatever the step left running in its group would keep the output pipe open: end it.
        _killpg(pgid, signal.SIGKILL)
        await _finish_reading(reader, clock)
    finally:
        if proc.returncode is None:
            _killpg(pgid, signal.SIGKILL)
        if not reader.done():
            reader.cancel()
    finished = clock.now()
    return _shell_outcome(proc.returncode, timed_out, capture.text(), started, finished, timeout, pgid)


def split_sql(script: str) -> list[str]:
    """Statements of an SQL script, split at `;` outside quotes and comments."""
    out: list[str] = []
    buf: list[str] = []
    quote = ""
    i = 0
    while i < len(script):
        ch = script[i]
        if quote:
            buf.append(ch)
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
            buf.append(ch)
        elif script.startswith("--", i):
            end = script.find("\n", i)
            i = len(script) if end < 0 else end
            continue
        elif ch == ";":
            out.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
        i += 1
    out.append("".join(buf))
    return [s.strip() for s in out if s.strip()]


def _engine_url(url: str) -> str:
    return re.sub(r"^postgres(?:ql)?://", "postgresql+psycopg://", url)


def _format_rows(keys: list[str], rows: list[Any]) -> str:
    cells = [[str(k) for k in keys]] + [["" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(keys))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    lines.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(lines)


def _execute_sql(script: str, url: str, timeout: float) -> str:
    full = _engine_url(url)
    connect_args: dict[str, Any] = {}
    if full.startswith("postgresql"):
        connect_args["options"] = f"-c statement_timeout={int(timeout * 1000)}"
    engine = create_engine(full, poolclass=NullPool, connect_args=connect_args)
    try:
        outputs: list[str] = []
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for statement in split_sql(script):
                result = conn.exec_driver_sql(statement)
                if result.returns_rows:
                    outputs.append(_format_rows(list(result.keys()), list(result.fetchall())))
                else:
                    word = statement.split()[0].upper()
                    count = result.rowcount
                    outputs.append(word if count is None or count < 0 else f"{word} {count}")
        return "\n".join(outputs) + "\n"
    finally:
        engine.dispose()


async def run_sql(
    script: str,
    url: str,
    *,
    clock: Clock,
    timeout: float,
    on_output: OnOutput = _ignore,
    output_limit: int = 65536,
) -> Outcome:
    """Run the statements of `script` one by one in autocommit mode (VACUUM needs it)."""
    started = clock.now()
    try:
        text = await clock.wait_for(asyncio.to_thread(_execute_sql, script, url, timeout), timeout)
    except TimeoutError:
        return Outcome("timed_out", None, "", started, clock.now(), f"timed out after {timeout:g}s")
    except SQLAlchemyError as exc:
        detail = str(getattr(exc, "orig", None) or exc).strip()
        capture = _Capture(output_limit)
        capture.add(detail + "\n")
        on_output(detail + "\n")
        first = detail.splitlines()[0] if detail else ""
        return Outcome("failed", 1, capture.text(), started, clock.now(), first)
    capture = _Capture(output_limit)
    capture.add(text)
    on_output(text)
    return Outcome("succeeded", 0, capture.text(), started, clock.now())
