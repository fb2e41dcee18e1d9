"""Running a list, restore or cleanup command: a shell in a session of its own, killed as a group on
timeout, with only the child environment opsbook gives every command (`redact.child_environment`).

Blocking (call it in a thread); the timeout is real seconds, since the command's work is real.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from opsbook.redact import child_environment

OUTPUT_MAX = 64 * 1024


@dataclass(frozen=True)
class Ran:
    code: int | None  # None: timed out (the process group was killed) or could not start
    output: str
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.code == 0


def run(argv: Sequence[str], timeout: float, env: Mapping[str, str] | None = None,
        keep_env: Mapping[str, str] | None = None) -> Ran:
    """Run `argv` with stdout and stderr together; `env` is added to the child environment, `keep_env`
    (e.g. PGPASSWORD) too but never shown."""
    environment = child_environment({**(env or {}), **(keep_env or {})})
    try:
        proc = subprocess.Popen(  # noqa: S603
            list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            env=environment, start_new_session=True,
        )
    except OSError as exc:
        return Ran(None, "", f"cannot start {argv[0]}: {exc}")
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        return Ran(None, _text(out), f"timed out after {timeout:g} s; process group killed")
    return Ran(proc.returncode, _text(out), "" if proc.returncode == 0 else f"exit code {proc.returncode}")


def shell(command: str, timeout: float, env: Mapping[str, str] | None = None) -> Ran:
    """Run a shell command line from the config."""
    return run(["/bin/sh", "-c", command], timeout, env)


def _text(raw: bytes | None) -> str:
    data = (raw or b"")[-OUTPUT_MAX:]
    return data.decode("utf-8", "replace")


def tail(text: str, lines: int = 20, limit: int = 2000) -> str:
    """The last lines of an output (at most `limit` characters)."""
    kept = "\n".join(text.strip().splitlines()[-lines:])
    return kept[-limit:]
