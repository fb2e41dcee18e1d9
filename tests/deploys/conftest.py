"""The deploys' test bench: a real versioned HTTP service process, its deploy script, a console that
answers checklists and counts verification rounds, and a driver that moves a FakeClock one round at a
time while real I/O runs."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from opsbook.checks.kinds.probes.http import close_sessions
from opsbook.checks.result import StoredResult
from opsbook.checks.runner import run_check
from opsbook.checks.spec import RunContext
from opsbook.checks.store import write_batch
from opsbook.clock import FakeClock
from opsbook.runtime import Runtime

HERE = Path(__file__).parent

DEPLOY_SCRIPT = """#!/bin/sh
# deploy.sh ENV VERSION: switch the service of ENV to VERSION
echo "switching $1 to $2"
printf '%s' "$2" > "$VERSIONS/$1.txt"
echo "$1 now on $2"
"""


@dataclass
class Versioned:
    """The service process of one environment, the file holding its version, the folder of the script."""

    port: int
    version_file: Path
    folder: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/health"

    @property
    def version(self) -> str:
        return self.version_file.read_text().strip()


def start_versioned(
    folder: Path, env: str = "production", version: str = "1.9", bad: str = "2.0", delay: float = 0.5
) -> tuple[subprocess.Popen[str], Versioned]:
    """The service of `env` at `version` (a real process; versions in `bad` fail 1 in 4 and take `delay`
    seconds: slow enough that no outlier of a loaded machine in the baseline hides it)."""
    version_file = folder / f"{env}.txt"
    version_file.write_text(version)
    (folder / "deploy.sh").write_text(DEPLOY_SCRIPT)
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "versioned_service.py"), str(version_file)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "BAD_VERSIONS": bad, "BAD_DELAY": str(delay)},
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("listening "), line
    return proc, Versioned(int(line.split()[1]), version_file, folder)


@contextlib.contextmanager
def running(
    folder: Path, env: str = "production", bad: str = "2.0", delay: float = 0.5
) -> Iterator[Versioned]:
    proc, found = start_versioned(folder, env, bad=bad, delay=delay)
    try:
        yield found
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def versioned(tmp_path: Path) -> Iterator[Versioned]:
    with running(tmp_path) as found:
        yield found


def deploy_yaml(
    service: Versioned,
    *,
    environments: str = "[staging, production]",
    extra: str = "",
    verification: str = "",
) -> str:
    """api with one http check on the versioned service and its deploy section (10 s rounds, 10 min)."""
    return f"""
timezone: Europe/Berlin
services:
  - name: api
    checks:
      - {{name: health, kind: http, url: "{service.url}", interval: 30s, timeout: 2s}}
    deploy:
      command: "sh deploy.sh {{env}} {{version}}"
      rollback_command: "sh deploy.sh {{env}} {{version}}"
      cwd: "{service.folder}"
      env: {{VERSIONS: "{service.folder}"}}
      environments: {environments}
      verification:
        {{window: 10m, interval: 10s, baseline: 1h, min_samples: 5, healthy_samples: 3,
        min_p95_increase: 400ms{verification}}}
{extra}"""


@dataclass
class Answers:
    """A Console: says into `said`, output into `lines`, answers checklist items from `replies`."""

    replies: dict[str, bool] = field(default_factory=dict)
    said: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    asked: list[tuple[str, str]] = field(default_factory=list)

    def output(self, line: str) -> None:
        self.lines.append(line)

    def say(self, text: str) -> None:
        self.said.append(text)

    def confirm(self, item: str, phase: str) -> bool:
        self.asked.append((phase, item))
        return self.replies.get(item, True)

    @property
    def rounds(self) -> int:
        return sum(1 for s in self.said if s.startswith("  "))


async def drive(
    clock: FakeClock, console: Answers, work: Any, step: timedelta = timedelta(seconds=10)
) -> Any:
    """Run `work` (a walk), moving the clock on by `step` after each verification round it reports; real
    I/O (the commands, the probes) runs in real time meanwhile."""
    task = asyncio.ensure_future(work)
    seen = 0
    try:
        while not task.done():
            if console.rounds > seen:
                seen = console.rounds
                await clock.advance(step)
            else:
                await asyncio.sleep(0.002)
        return task.result()
    finally:
        await close_sessions()  # the probes' HTTP sessions of this loop


async def seed_baseline(
    runtime: Runtime,
    clock: FakeClock,
    check_id: str = "api/health",
    runs: int = 12,
    every: timedelta = timedelta(minutes=5),
) -> None:
    """Probe the check for real `runs` times, `every` apart on the fake clock: the hour before a deploy."""
    spec = runtime.config.checks()[check_id]
    for _ in range(runs):
        result = await run_check(spec, RunContext(clock=clock))
        with runtime.sessions.begin() as session:
            write_batch(session, [StoredResult(check_id, clock.now(), result)])
        await clock.advance(every)
