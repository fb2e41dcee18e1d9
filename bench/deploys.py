"""The automatic rollback's regression-to-healthy time on a local service (issue 12).

A real HTTP service process on 127.0.0.1 whose `deploy.sh ENV VERSION` switches its version; version 2.0
answers 500 on every 4th request and takes --delay seconds. For each run: a fresh SQLite database, a
baseline of real probes at 1.9, 1.9 recorded as the version in production, then the real
`opsbook deploy api 2.0 --confirm` (the real clock; checks every --interval during the window). Printed per
run: the exit code (4: rolled back), detection (verification start → regression detected), regression →
healthy again (what the record keeps as the rollback's time to restore), and the whole command's time.

    .venv/bin/python bench/deploys.py [--runs 5] [--interval 1s] [--delay 0.3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from opsbook.checks.kinds.probes.http import close_sessions
from opsbook.checks.result import StoredResult
from opsbook.checks.runner import run_check
from opsbook.checks.spec import RunContext
from opsbook.checks.store import write_batch
from opsbook.clock import SystemClock
from opsbook.runtime import open_runtime

HERE = Path(__file__).resolve().parent
SERVICE = HERE.parent / "tests" / "deploys" / "versioned_service.py"
OPSBOOK = str(Path(sys.executable).parent / "opsbook")
SCRIPT = """#!/bin/sh
echo "switching $1 to $2"
printf '%s' "$2" > "$VERSIONS/$1.txt"
"""


def config(folder: Path, port: int, interval: str) -> Path:
    path = folder / "opsbook.yaml"
    path.write_text(f"""
services:
  - name: api
    checks:
      - {{name: health, kind: http, url: "http://127.0.0.1:{port}/health", timeout: 2s}}
    deploy:
      command: "sh deploy.sh {{env}} {{version}}"
      rollback_command: "sh deploy.sh {{env}} {{version}}"
      env: {{VERSIONS: "{folder}"}}
      verification: {{window: 60s, interval: {interval}, min_samples: 5, healthy_samples: 3}}
""")
    return path


async def baseline(path: Path, runs: int = 20) -> None:
    """Real probes of 1.9, stored as the check's results before the deploy."""
    runtime = open_runtime(str(path), clock=SystemClock())
    spec = runtime.config.checks()["api/health"]
    for _ in range(runs):
        result = await run_check(spec, RunContext(clock=runtime.clock))
        with runtime.sessions.begin() as session:
            write_batch(session, [StoredResult("api/health", runtime.clock.now(), result)])
    await close_sessions()
    runtime.close()


def opsbook(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OPSBOOK_USER": "bench"}
    env.pop("OPSBOOK_DATABASE_URL", None)
    return subprocess.run(
        [OPSBOOK, *args, "-c", str(path)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def one_run(interval: str, delay: float) -> dict[str, float]:
    folder = Path(tempfile.mkdtemp(prefix="opsbook-bench-deploy-"))
    (folder / "deploy.sh").write_text(SCRIPT)
    (folder / "production.txt").write_text("1.9")
    proc = subprocess.Popen(
        [sys.executable, str(SERVICE), str(folder / "production.txt")],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "BAD_VERSIONS": "2.0", "BAD_DELAY": str(delay)},
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline().split()[1])
        path = config(folder, port, interval)
        assert opsbook(path, "deploy", "record", "api", "1.9").returncode == 0
        asyncio.run(baseline(path))
        started = time.perf_counter()
        ran = opsbook(path, "deploy", "api", "2.0", "--confirm")
        took = time.perf_counter() - started
        shown = json.loads(opsbook(path, "deploy", "show", "2", "--json").stdout)
    finally:
        proc.terminate()
        proc.wait()
    if ran.returncode != 4:
        raise SystemExit(f"expected a rollback (exit 4), got {ran.returncode}:\n{ran.stdout}\n{ran.stderr}")
    verifying = datetime.fromisoformat(shown["started_at"])
    regression = datetime.fromisoformat(shown["regression_at"])
    return {
        "detect": (regression - verifying).total_seconds(),
        "restore": shown["restore_seconds"],
        "confirmed": shown["verdict"]["healthy_confirmed_after_s"],
        "command": took,
        "version": 1.0 if (folder / "production.txt").read_text() == "1.9" else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--interval", default="1s")
    parser.add_argument("--delay", type=float, default=0.3)
    args = parser.parse_args()
    rows = [one_run(args.interval, args.delay) for _ in range(args.runs)]
    print(
        f"{'run':>3}  {'start → regression':>18}  {'→ healthy':>9}  {'→ confirmed':>11}  "
        f"{'command':>7}  on 1.9"
    )
    for i, r in enumerate(rows, 1):
        print(
            f"{i:>3}  {r['detect']:>16.1f} s  {r['restore']:>7.2f} s  {r['confirmed']:>9.2f} s  "
            f"{r['command']:>5.1f} s  {'yes' if r['version'] else 'NO'}"
        )
    restore = [r["restore"] for r in rows]
    confirmed = [r["confirmed"] for r in rows]
    print(
        f"regression → healthy: median {statistics.median(restore):.2f} s, max {max(restore):.2f} s; "
        f"confirmed (3 healthy rounds): median {statistics.median(confirmed):.2f} s, "
        f"max {max(confirmed):.2f} s "
        f"(interval {args.interval}; target under 60 s)"
    )


if __name__ == "__main__":
    main()
