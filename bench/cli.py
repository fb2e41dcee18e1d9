"""How long the commands a responder types at 3 a.m. take to start and answer, next to `python3 -c pass`.

Each command runs as its own process, as a person starts it, against a small team's config and a SQLite
database prepared here (a few services and checks, on-call, an open incident per `incident ack`), with
bytecode cached as in an installed package (PYTHONPYCACHEPREFIX in the run's folder, one warm-up run).
Prints the minimum and median wall time of each over --runs runs, taken in turns so a busy moment of
the machine weighs on every command alike, the same for the CPU time the process used (user + system:
on a busy machine the wall time also counts the waits for a core), and the load average before and after.

Each command is measured twice: "here", run in its own process from nothing (OPSBOOK_PRELOAD=off, as
the first command after the preloader went idle, or with it turned off), and "served", handed to the
preloader (cli/launch.py, cli/preloader.py), which a warm-up command started before the runs (it is
stopped at the end). Two rows put the figures in context: `python3 -c pass`, and the libraries every
command that opens the database loads (`import typer, rich, sqlalchemy.orm, pydantic`: Typer reads
arguments with pydantic), a floor no command run here goes below. `--baseline REV` also runs each command
as the tree at git revision REV has it (its `src/`, in its own process, on the same database, in the same
turns), so a change is measured under the same load as what it replaces.

    .venv/bin/python bench/cli.py [--runs 15] [--baseline REV]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

OPSBOOK = str(Path(sys.executable).parent / "opsbook")
ROOT = Path(__file__).resolve().parent.parent
LIBRARIES = "import typer, typer.core, rich.console, rich.table, sqlalchemy.orm, pydantic"

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


OLD_PROGRAM = [sys.executable, "-c", "import sys; from opsbook.cli.main import app; app(prog_name='opsbook')"]
"""`opsbook` as a tree from before cli/launch.py started it (its console script imported cli.main)."""


def commands(runs: int, first_ack: int, program: list[str]) -> dict[str, list[list[str]]]:
    """Each measured command: its argument list for every run (ack needs a fresh incident each time)."""
    return {
        "opsbook --help": [[*program, "--help"]] * runs,
        "opsbook status": [[*program, "status"]] * runs,
        "opsbook incident list": [[*program, "incident", "list"]] * runs,
        "opsbook incident show": [[*program, "incident", "show", "1"]] * runs,
        "opsbook incident ack": [[*program, "incident", "ack", str(first_ack + i)] for i in range(runs)],
        "opsbook oncall now": [[*program, "oncall", "now"]] * runs,
    }


def plan(runs: int, baseline: str | None) -> dict[str, tuple[list[list[str]], dict[str, str]]]:
    """Every row: its argument lists and the environment it adds (the baseline's: its source first)."""
    rows: dict[str, tuple[list[list[str]], dict[str, str]]] = {
        "python3 -c pass": ([[sys.executable, "-c", "pass"]] * runs, {}),
        "libraries (typer, rich, sqlalchemy.orm, pydantic)": ([[sys.executable, "-c", LIBRARIES]] * runs, {}),
    }
    here = {"OPSBOOK_PRELOAD": "off"}
    for name, argvs in commands(runs, first_ack=2, program=[OPSBOOK]).items():
        rows[f"{name}, here"] = (argvs, here)
    for name, argvs in commands(runs, first_ack=2 + runs, program=[OPSBOOK]).items():
        if name != "opsbook --help":  # not handed over: it loads no library
            rows[f"{name}, served"] = (argvs, {})
    if baseline is not None:
        source = {"PYTHONPATH": str(Path(baseline) / "src"), **here}
        for name, argvs in commands(runs, first_ack=2 + 2 * runs, program=OLD_PROGRAM).items():
            rows[f"{name} ({Path(baseline).name})"] = (argvs, source)
    return rows


def prepare(folder: Path, incidents: int) -> dict[str, str]:
    """The config, its database (migrated, `incidents` incidents open) and the environment to run in."""
    (folder / "opsbook.yaml").write_text(CONFIG)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OPSBOOK_", "PYTHONDONT"))}
    env.update(
        OPSBOOK_CONFIG=str(folder / "opsbook.yaml"),
        OPSBOOK_CACHE_DIR=str(folder / "cache"),
        OPSBOOK_USER="ana",
        PYTHONPYCACHEPREFIX=str(folder / "pycache"),
        XDG_RUNTIME_DIR=str(folder),  # this run's own preloader, stopped at the end
        COLUMNS="100",
    )
    run([OPSBOOK, "db", "upgrade"], env, folder)
    for i in range(incidents):
        run([OPSBOOK, "incident", "open", f"Bench incident {i + 1}", "--service", "api"], env, folder)
    return env


def wait_for_preloader(folder: Path) -> int:
    """The pid of the preloader the warm-up command started, once it listens."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for place in folder.glob("*.sock"):
            with socket.socket(socket.AF_UNIX) as probe:
                try:
                    probe.connect(str(place))
                except OSError:
                    continue
            return int(place.with_suffix(".lock").read_text())
        time.sleep(0.05)
    raise SystemExit(f"no preloader started in {folder}")


def stop_preloaders(folder: Path) -> None:
    for lock in folder.glob("*.lock"):
        with contextlib.suppress(ValueError, ProcessLookupError):
            os.kill(int(lock.read_text()), signal.SIGTERM)


def checkout(revision: str, folder: Path) -> Path:
    """The tree at `revision` (its src/), written under `folder`."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", revision, "src"], capture_output=True, check=True
    ).stdout
    target = folder / f"at-{revision}"
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target


def run(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one run of `argv`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    took = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return took, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=15, help="runs of each command (after one warm-up run)")
    parser.add_argument("--baseline", metavar="REV", help="also run the commands of the tree at git REV")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="opsbook-bench-cli-") as tmp:
        folder = Path(tmp)
        baseline = str(checkout(args.baseline, folder)) if args.baseline else None
        rows = plan(args.runs + 1, baseline)
        env = prepare(folder, incidents=3 * (args.runs + 1) + 2)
        run([OPSBOOK, "oncall", "now"], env, folder)  # starts the preloader
        wait_for_preloader(folder / "opsbook")
        load_before = os.getloadavg()
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in rows}
        for turn in range(args.runs + 1):
            for name, (argvs, extra) in rows.items():
                took = run(argvs[turn], {**env, **extra}, folder)
                if turn:  # the first turn compiles and caches the bytecode (and validates the config)
                    times[name].append(took)
        load_after = os.getloadavg()
        stop_preloaders(folder / "opsbook")
    width = max(map(len, times))
    print(f"{'':<{width}}  {'wall time':^17}  {'CPU time':^17}   ({args.runs} runs, {os.cpu_count()} cores)")
    print(f"{'command':<{width}}  {'min':>7}  {'median':>8}  {'min':>7}  {'median':>8}")
    for name, values in times.items():
        print(f"{name:<{width}}  {_ms([wall for wall, _ in values])}  {_ms([cpu for _, cpu in values])}")
    print(f"load average (1, 5, 15 min): before {_load(load_before)}, after {_load(load_after)}")


def _ms(values: list[float]) -> str:
    return f"{min(values) * 1000:5.0f} ms  {statistics.median(values) * 1000:5.0f} ms"


def _load(values: tuple[float, float, float]) -> str:
    return " / ".join(f"{value:.1f}" for value in values)


if __name__ == "__main__":
    main()
