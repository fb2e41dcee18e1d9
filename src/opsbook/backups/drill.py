"""Running a restore drill (blocking; call it in a thread): restore into a scratch target, run the smoke
queries, time it, clean up whatever happened.

Built in for PostgreSQL: the newest pg_dump file matching `dump` is restored into a scratch database that
opsbook creates on `dsn`'s server (`opsbook_drill_<job>_<random>`) with `pg_restore` (custom, tar or
directory format) or `psql` (plain SQL), stopping at the first error; the smoke queries run in it; it is
dropped afterwards (`DROP DATABASE ... WITH (FORCE)`) in every case, and the drill records whether the
drop worked. The measured RTO is the real time from creating the scratch database to the last smoke
query answered. Passwords go to the client programs in PGPASSWORD, never on their command line.

A `command` drill runs the team's restore command instead ($OPSBOOK_DRILL_NAME names a scratch target it
may use), then the smoke queries against `smoke_dsn`, then its `cleanup` command, always.
"""

from __future__ import annotations

import glob
import os
import secrets
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from opsbook.backups import shell
from opsbook.backups.config import BackupJob, DrillConfig, PostgresRestore, SmokeQuery
from opsbook.checks.kinds.postgres import libpq_dsn

Redact = Callable[[str], str]


@dataclass
class DrillOutcome:
    ok: bool = False
    rto_s: float | None = None
    restored: str = ""
    scratch: str = ""
    scratch_dropped: bool = False
    error: str = ""
    steps: list[dict[str, Any]] = field(default_factory=list)

    @property
    def output(self) -> str:
        """Each step's name, verdict, duration and output, as the operations log shows them."""
        parts = []
        for s in self.steps:
            head = f"$ {s['name']}: {'ok' if s['ok'] else 'FAILED'} ({s['duration_s']:.2f} s)"
            parts.append(head + (f"\n{s['output']}" if s["output"] else ""))
        return "\n".join(parts)

    def step(self, name: str, ok: bool, started: float, output: str = "") -> bool:
        self.steps.append({"name": name, "ok": ok, "duration_s": round(time.perf_counter() - started, 3),
                           "output": output.strip()[-4000:]})
        return ok

    def fail(self, message: str) -> DrillOutcome:
        self.ok = False
        self.error = self.error or message
        return self


def scratch_name(job: str) -> str:
    return f"opsbook_drill_{job.replace('-', '_')}_{secrets.token_hex(4)}"[:63]


def newest_dump(pattern: str) -> Path | None:
    """The most recently modified file matching `pattern` (a path or a glob)."""
    found = [Path(p) for p in glob.glob(os.path.expanduser(pattern)) if Path(p).is_file() or Path(p).is_dir()]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def is_archive(path: Path) -> bool:
    """A pg_restore archive (custom or tar format, or a directory dump) rather than plain SQL."""
    if path.is_dir():
        return True
    with path.open("rb") as f:
        head = f.read(512)
    return head.startswith(b"PGDMP") or (len(head) >= 262 and head[257:262] == b"ustar")


def with_database(dsn: str, dbname: str, *, password: bool = True) -> tuple[str, dict[str, str]]:
    """A conninfo of `dsn` for database `dbname`, and (`password=False`) its password apart as PGPASSWORD,
    for a client program whose command line anyone on the machine may read."""
    params = conninfo_to_dict(libpq_dsn(dsn))
    params["dbname"] = dbname
    secret = None if password else params.pop("password", None)
    conninfo = make_conninfo(**{k: str(v) for k, v in params.items()})
    return conninfo, ({"PGPASSWORD": str(secret)} if secret is not None else {})


def smoke(conninfo: str, queries: list[SmokeQuery], outcome: DrillOutcome, redact: Redact) -> bool:
    """Run every smoke query; each must return true, or a number at least its `min`."""
    all_ok = True
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=10) as conn:
        for query in queries:
            started = time.perf_counter()
            try:
                row = conn.execute(query.sql).fetchone()
            except psycopg.Error as exc:
                all_ok = outcome.step(f"smoke: {query.label}", False, started, redact(str(exc)))
                why = redact(str(exc)).strip()
                outcome.error = outcome.error or f"smoke query {query.label!r} failed: {why}"
                continue
            value = row[0] if row else None
            ok, verdict = judge(value, query)
            outcome.step(f"smoke: {query.label}", ok, started, f"value {value!r}; {verdict}")
            if not ok:
                all_ok = False
                outcome.error = outcome.error or f"smoke query {query.label!r} {verdict}"
    return all_ok


def judge(value: Any, query: SmokeQuery) -> tuple[bool, str]:
    """Whether a smoke query's first value passes, and why in words."""
    if query.min is not None:
        if isinstance(value, bool) or (not isinstance(value, int | float) and not _numeric(value)):
            return False, f"returned {value!r}, not a number (expected at least {query.min:g})"
        number = float(value)
        if number >= query.min:
            return True, f"{number:g} >= {query.min:g}"
        return False, f"returned {number:g}, below the floor {query.min:g}"
    if value is True:
        return True, "true"
    return False, f"returned {value!r}, not true"


def _numeric(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def run_postgres(job: BackupJob, drill: DrillConfig, pg: PostgresRestore, redact: Redact) -> DrillOutcome:
    if pg.database is None:
        return restore_dump(job, drill, pg, redact)
    with tempfile.TemporaryDirectory(prefix="opsbook-drill-") as tmp:
        dump = Path(tmp) / f"{job.name}.dump"
        started = time.perf_counter()
        source, secret_env = with_database(pg.database, _dbname(pg.database), password=False)
        program = str(Path(pg.bin_dir) / "pg_dump") if pg.bin_dir else "pg_dump"
        ran = shell.run([program, "--format=custom", f"--file={dump}", f"--dbname={source}"],
                        drill.timeout.total_seconds(), drill.env, keep_env=secret_env)
        if not ran.ok:
            outcome = DrillOutcome(restored=redact(source))
            outcome.step("pg_dump of the database", False, started, redact(ran.output) or ran.error)
            return outcome.fail(f"pg_dump failed ({ran.error}): {shell.tail(redact(ran.output), 5, 1000)}")
        dumped = {"name": "pg_dump of the database", "ok": True, "output": "",
                  "duration_s": round(time.perf_counter() - started, 3)}
        outcome = restore_dump(job, drill, pg, redact, dump)  # the RTO counts from here, not the dump
        outcome.steps.insert(0, dumped)
        outcome.restored = f"a fresh pg_dump of {redact(source)}"
        return outcome


def _dbname(dsn: str) -> str:
    return str(conninfo_to_dict(libpq_dsn(dsn)).get("dbname") or "postgres")


def restore_dump(job: BackupJob, drill: DrillConfig, pg: PostgresRestore, redact: Redact,
                 dump: Path | None = None) -> DrillOutcome:
    """Restore `dump` (default: the newest file matching `pg.dump`) into a scratch database, smoke it."""
    outcome = DrillOutcome()
    dump = dump or newest_dump(pg.dump or "")
    if dump is None:
        return outcome.fail(f"no dump file matches {pg.dump!r}")
    outcome.restored = str(dump)
    outcome.scratch = scratch_name(job.name)
    admin = libpq_dsn(pg.dsn)
    began = time.perf_counter()
    try:
        started = time.perf_counter()
        try:
            with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(outcome.scratch)))
        except psycopg.Error as exc:
            outcome.step(f"create scratch database {outcome.scratch}", False, started, redact(str(exc)))
            return outcome.fail(f"cannot create the scratch database: {redact(str(exc)).strip()}")
        outcome.step(f"create scratch database {outcome.scratch}", True, started)
        conninfo, secret_env = with_database(pg.dsn, outcome.scratch, password=False)
        if not _restore(dump, conninfo, secret_env, pg, drill, outcome, redact):
            return outcome
        if drill.smoke and not smoke(with_database(pg.dsn, outcome.scratch)[0], drill.smoke, outcome, redact):
            return outcome.fail("a smoke query failed")
        outcome.rto_s = round(time.perf_counter() - began, 3)
        outcome.ok = True
        return outcome
    finally:
        _drop(admin, outcome, redact)


def _restore(dump: Path, conninfo: str, secret_env: dict[str, str], pg: PostgresRestore, drill: DrillConfig,
             outcome: DrillOutcome, redact: Redact) -> bool:
    def program(name: str) -> str:
        return str(Path(pg.bin_dir) / name) if pg.bin_dir else name

    if is_archive(dump):
        argv = [program("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error",
                f"--dbname={conninfo}", str(dump)]
        if pg.jobs > 1 and not argv[-1].endswith(".tar"):
            argv[1:1] = [f"--jobs={pg.jobs}"]
            argv.remove("--exit-on-error")  # pg_restore refuses both together
        name = f"pg_restore {dump.name}"
    else:
        argv = [program("psql"), "--no-psqlrc", "--quiet", "--set=ON_ERROR_STOP=1", f"--dbname={conninfo}",
                f"--file={dump}"]
        name = f"psql -f {dump.name}"
    started = time.perf_counter()
    ran = shell.run(argv, drill.timeout.total_seconds(), drill.env, keep_env=secret_env)
    output = redact(ran.output)
    if ran.ok:
        return outcome.step(name, True, started, output)
    outcome.step(name, False, started, output or ran.error)
    detail = shell.tail(output, 5, 1000) or ran.error
    outcome.fail(f"restore failed ({ran.error}): {detail}")
    return False


def _drop(admin: str, outcome: DrillOutcome, redact: Redact) -> None:
    if not outcome.scratch:
        return
    started = time.perf_counter()
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            conn.execute(drop.format(sql.Identifier(outcome.scratch)))
            left = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (outcome.scratch,)).fetchone()
        outcome.scratch_dropped = left is None
        outcome.step(f"drop scratch database {outcome.scratch}", outcome.scratch_dropped, started)
    except psycopg.Error as exc:
        outcome.step(f"drop scratch database {outcome.scratch}", False, started, redact(str(exc)))
        why = redact(str(exc)).strip()
        outcome.error = outcome.error or f"the scratch database could not be dropped: {why}"
        outcome.ok = False


def run_command(job: BackupJob, drill: DrillConfig, redact: Redact) -> DrillOutcome:
    assert drill.command is not None
    outcome = DrillOutcome(restored=drill.command, scratch=scratch_name(job.name))
    env = {**drill.env, "OPSBOOK_DRILL_NAME": outcome.scratch}
    began = time.perf_counter()
    try:
        started = time.perf_counter()
        ran = shell.shell(drill.command, drill.timeout.total_seconds(), env)
        if not outcome.step("restore command", ran.ok, started, redact(ran.output)):
            detail = shell.tail(redact(ran.output), 5, 1000) or ran.error
            return outcome.fail(f"restore failed ({ran.error}): {detail}")
        smoke_dsn = libpq_dsn(drill.smoke_dsn) if drill.smoke_dsn else ""
        if drill.smoke and smoke_dsn and not smoke(smoke_dsn, drill.smoke, outcome, redact):
            return outcome.fail("a smoke query failed")
        outcome.rto_s = round(time.perf_counter() - began, 3)
        outcome.ok = True
        return outcome
    finally:
        if drill.cleanup:
            started = time.perf_counter()
            ran = shell.shell(drill.cleanup, drill.timeout.total_seconds(), env)
            outcome.scratch_dropped = outcome.step("cleanup command", ran.ok, started, redact(ran.output))
            if not ran.ok:
                outcome.ok = False
                outcome.error = outcome.error or f"cleanup failed ({ran.error})"


def run_drill(job: BackupJob, redact: Redact) -> DrillOutcome:
    """Run `job`'s drill now and return what happened (never raises for a failed restore)."""
    drill = job.drill
    if drill is None:
        raise ValueError(f"backup job {job.name} has no drill")
    try:
        if drill.postgres is not None:
            return run_postgres(job, drill, drill.postgres, redact)
        return run_command(job, drill, redact)
    except (psycopg.Error, OSError) as exc:
        return DrillOutcome().fail(redact(f"{type(exc).__name__}: {exc}"))
