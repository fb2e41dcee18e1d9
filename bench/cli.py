"""How long the commands a responder types at 3 a.m. take to start and answer, next to `python3 -c pass`.

Each command runs as its own process, as a person starts it, against a small team's config and a SQLite
database prepared here (a few services and checks, on-call, an open incident per `incident ack`), with
bytecode cached as in an installed package (PYTHONPYCACHEPREFIX in the run's folder, one warm-up run).
Prints the minimum and median wall time of each over --runs runs, taken in turns so a busy moment of
the machine weighs on every command alike.

    .venv/bin/python bench/cli.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

OPSBOOK = str(Path(sys.executable).parent / "opsbook")

CONFIG = """\
title: "Bench team"
timezone: Europe/Berlin
users:
  - {name: ana, role: responder}
  - {name: ben, role: responder}
  - {name: lead, role: admin}
schedules:
  - name: primary
    timezone: Europe/Berlin
    layers:
      - {name: weekly, users: [ana, ben], turn: 1w, handoff: "monday 09:00", start: 2026-03-02}
escalation_policies:
  - name: default
    levels:
      - {targets: ["schedule:primary"], after: 10m}
      - {targets: ["user:lead"]}
services:
  - name: api
    public: true
    checks:
      - {name: health, kind: http, url: "http://127.0.0.1:9/health", interval: 30s}
      - {name: tls, kind: tls, host: 127.0.0.1, port: 9}
  - name: db
    checks:
      - {name: select-1, kind: postgres, dsn: "postgresql://app@127.0.0.1:9/app"}
  - name: cache
    checks:
      - {name: ping, kind: redis, url: "redis://127.0.0.1:9/0"}
  - name: host
    checks:
      - {name: disk, kind: host, max_disk_pct: 90}
  - name: jobs
    checks:
      - {name: backup, kind: heartbeat, period: 1d, grace: 1h}
      - {name: cron, kind: command, command: "true"}
"""


def commands(runs: int) -> dict[str, list[list[str]]]:
    """Each measured command: its argument list for every run (ack needs a fresh incident each time)."""
    return {
        "python3 -c pass": [[sys.executable, "-c", "pass"]] * runs,
        "opsbook --help": [[OPSBOOK, "--help"]] * runs,
        "opsbook status": [[OPSBOOK, "status"]] * runs,
        "opsbook incident list": [[OPSBOOK, "incident", "list"]] * runs,
        "opsbook incident show": [[OPSBOOK, "incident", "show", "1"]] * runs,
        "opsbook incident ack": [[OPSBOOK, "incident", "ack", str(2 + i)] for i in range(runs)],
        "opsbook oncall now": [[OPSBOOK, "oncall", "now"]] * runs,
    }


def prepare(folder: Path, incidents: int) -> dict[str, str]:
    """The config, its database (migrated, `incidents` incidents open) and the environment to run in."""
    (folder / "opsbook.yaml").write_text(CONFIG)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OPSBOOK_", "PYTHONDONT"))}
    env.update(
        OPSBOOK_CONFIG=str(folder / "opsbook.yaml"),
        OPSBOOK_USER="ana",
        PYTHONPYCACHEPREFIX=str(folder / "pycache"),
        COLUMNS="100",
    )
    run([OPSBOOK, "db", "upgrade"], env, folder)
    for i in range(incidents):
        run([OPSBOOK, "incident", "open", f"Bench incident {i + 1}", "--service", "api"], env, folder)
    return env


def run(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=15, help="runs of each command (after one warm-up run)")
    args = parser.parse_args()
    plan = commands(args.runs + 1)
    with tempfile.TemporaryDirectory(prefix="opsbook-bench-cli-") as tmp:
        folder = Path(tmp)
        env = prepare(folder, incidents=args.runs + 2)
        times: dict[str, list[float]] = {name: [] for name in plan}
        for turn in range(args.runs + 1):
            for name, argvs in plan.items():
                took = run(argvs[turn], env, folder)
                if turn:  # the first turn compiles and caches the bytecode
                    times[name].append(took)
    width = max(map(len, times))
    print(f"{'command':<{width}}  {'min':>7}  {'median':>7}   ({args.runs} runs, {os.cpu_count()} cores)")
    for name, values in times.items():
        print(f"{name:<{width}}  {min(values) * 1000:5.0f} ms  {statistics.median(values) * 1000:5.0f} ms")


if __name__ == "__main__":
    main()
