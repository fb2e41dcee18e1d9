"""The commands a responder types load only what they need (issue 11: they start in well under a second).

Structural, not timed: each command runs as a person starts it (the installed `opsbook`, its own
process, a migrated SQLite database, a config already validated once), with Python's import profiler on
(PYTHONPROFILEIMPORTTIME), and the modules it imported are checked against what none of them may load:
the web stack, the notification senders, Alembic, the database drivers and clients of other services,
and for the reads also the template and Markdown engines. bench/cli.py measures the time itself.
A failure names the chain of imports that brought the module in.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

import pytest

from opsbook.cli.startup import collector_held

OPSBOOK = str(Path(sys.executable).parent / "opsbook")

CONFIG = """\
title: Start-up team
timezone: Europe/Berlin
users:
  - {name: ana, role: responder}
  - {name: ben, role: responder}
schedules:
  - name: primary
    layers:
      - {name: weekly, users: [ana, ben], turn: 1w, handoff: "monday 09:00", start: 2026-03-02}
escalation_policies:
  - name: default
    levels:
      - {targets: ["schedule:primary"], after: 10m}
services:
  - name: api
    checks:
      - {name: health, kind: http, url: "http://127.0.0.1:9/health", interval: 30s}
      - {name: tls, kind: tls, host: 127.0.0.1, port: 9}
      - name: latency
        kind: http
        url: "http://127.0.0.1:9/"
        rules: [{when: "latency_ms > 500 for 5m", summary: "slow: {{ value }} ms"}]
  - name: db
    checks:
      - {name: select-1, kind: postgres, dsn: "postgresql://app@127.0.0.1:9/app"}
      - {name: ping, kind: redis, url: "redis://127.0.0.1:9/0"}
  - name: jobs
    checks:
      - {name: backup, kind: heartbeat, cron: "0 3 * * *", grace: 1h}
      - {name: disk, kind: host, max_disk_pct: 90}
"""

NEVER = (
    "fastapi", "starlette", "uvicorn", "uvloop", "httptools", "aiohttp", "httpx", "apprise", "alembic",
    "psycopg", "redis", "psutil", "icalendar", "prometheus_client", "argon2",
    "sqlalchemy.dialects.postgresql",
)
"""What no responder command loads: the server, the senders, migrations, drivers and other clients."""

NOT_FOR_READS = (*NEVER, "jinja2", "markdown_it", "opsbook.notify.service", "opsbook.incidents.lifecycle")
"""What a command that only shows something does not load either: templates, Markdown, the use cases."""
# `incident ack` loads the use cases (and the outbox's module) but neither engine: it renders no message
# and pages nobody.

COMMANDS: dict[str, tuple[list[str], tuple[str, ...]]] = {
    "--help": (["--help"], (*NEVER, "sqlalchemy", "opsbook.runtime")),
    "status": (["status"], NOT_FOR_READS),
    "incident list": (["incident", "list"], NOT_FOR_READS),
    "oncall now": (["oncall", "now"], NOT_FOR_READS),
    "incident show": (["incident", "show", "1"], NOT_FOR_READS),
    "incident ack": (["incident", "ack", "2"], (*NEVER, "jinja2", "markdown_it")),
}


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A team's folder (config, migrated database, two open incidents) and the environment to run in."""
    folder = tmp_path_factory.mktemp("startup")
    (folder / "opsbook.yaml").write_text(CONFIG)
    env = {key: value for key, value in os.environ.items() if not key.startswith("OPSBOOK_")}
    env["OPSBOOK_PRELOAD"] = "off"  # each command in its own process, as this test set it up
    env.update(
        OPSBOOK_CONFIG=str(folder / "opsbook.yaml"),
        OPSBOOK_CACHE_DIR=str(folder / "cache"),
        OPSBOOK_USER="ana",
        COLUMNS="100",
    )
    _run(["db", "upgrade"], env)
    for title in ("API down", "Disk full"):
        _run(["incident", "open", title, "--service", "api"], env)
    return env


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([OPSBOOK, *args], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def imported(args: list[str], env: dict[str, str]) -> dict[str, list[str]]:
    """Every module `opsbook ARGS` imported, with the chain of imports that brought it in."""
    done = _run(args, {**env, "PYTHONPROFILEIMPORTTIME": "1"})
    rows = []
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and not line.endswith("imported package"):
            name = line.split("|", 2)[2]
            rows.append((len(name) - len(name.lstrip()), name.strip()))
    chains: dict[str, list[str]] = {}
    for i, (depth, name) in enumerate(rows):  # a module is listed after what it imported
        chain, level = [name], depth
        for parent_depth, parent in rows[i + 1:]:
            if parent_depth < level:
                chain.append(parent)
                level = parent_depth
        chains[name] = chain
    return chains


def warm(args: list[str], env: dict[str, str]) -> dict[str, list[str]]:
    """`imported(args)` on a run that found its config validated in the cache, as a responder's does
    (a run that had to validate again because opsbook's code changed meanwhile is taken again)."""
    entries = Path(env["OPSBOOK_CACHE_DIR"], "config")
    for _ in range(3):
        _run(["incident", "list"], env)  # validates the config once, if this code has not yet
        before = {(p.name, p.stat().st_mtime_ns) for p in entries.glob("*.bin")}
        chains = imported(args, env)
        if {(p.name, p.stat().st_mtime_ns) for p in entries.glob("*.bin")} == before:
            return chains
    raise AssertionError("the config was validated again on every run: is the cache working?")


@pytest.mark.parametrize("command", COMMANDS)
def test_a_responders_command_loads_only_what_it_needs(team: dict[str, str], command: str) -> None:
    args, forbidden = COMMANDS[command]
    chains = warm(args, team)
    assert "opsbook.cli.main" in chains  # the profiler saw the command
    loaded = [name for name in chains if any(name == no or name.startswith(no + ".") for no in forbidden)]
    first = [name for name in loaded if not set(chains[name][1:2]) & set(loaded)]  # not via another
    assert not first, f"`opsbook {' '.join(args)}` loads what it must not:\n" + "\n".join(
        " <- ".join(chains[name]) for name in first
    )

def test_the_program_a_person_starts_loads_only_the_standard_library() -> None:
    """`opsbook` itself (cli/launch.py) hands a responder's command to the preloader before it imports
    anything of its own: what it loads beyond Python's own start-up is the standard library alone."""

    def loaded(code: str) -> set[str]:
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, timeout=60,
            check=True,
        )
        lines = [line for line in done.stderr.splitlines() if line.startswith("import time:")]
        return {line.split("|")[2].strip() for line in lines}

    names = loaded("import opsbook.cli.launch") - loaded("pass")
    assert "opsbook.cli.launch" in names
    ours = {"opsbook", "opsbook.cli", "opsbook.cli.launch"}
    outside = sorted(name for name in names - ours if name.split(".")[0] not in sys.stdlib_module_names)
    assert not outside, f"opsbook.cli.launch loads more than the standard library: {outside}"


def test_a_changed_config_is_read_again_by_the_next_command(team: dict[str, str]) -> None:
    """The config cache behind these figures never answers with an older file."""
    config = Path(team["OPSBOOK_CONFIG"])
    original = config.read_text()
    assert "CET" in _run(["incident", "list"], team).stdout
    try:
        config.write_text(original.replace("timezone: Europe/Berlin", "timezone: America/New_York"))
        assert "EST" in _run(["incident", "list"], team).stdout
    finally:
        config.write_text(original)
    assert "CET" in _run(["incident", "list"], team).stdout


def test_the_collector_is_held_while_a_command_loads_and_frozen_out_after() -> None:
    gc.unfreeze()
    try:
        with collector_held():
            assert not gc.isenabled()
            loaded = [object() for _ in range(1000)]
        assert gc.isenabled()
        assert gc.get_freeze_count() >= len(loaded)
    finally:
        gc.unfreeze()


def test_a_collector_someone_else_turned_off_stays_off() -> None:
    gc.disable()
    try:
        with collector_held():
            pass
        assert not gc.isenabled()
        assert gc.get_freeze_count() == 0
    finally:
        gc.enable()
