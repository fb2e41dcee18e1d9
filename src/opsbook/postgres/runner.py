"""Runs a maintenance task's statements with `lock_timeout` and `statement_timeout` set first.

Autocommit (VACUUM and REINDEX CONCURRENTLY refuse to run in a transaction block), one statement after
the other, stopping at the first that fails; every statement's duration, status and error are kept for
the operations log. Blocking: the maintenance loop runs it in a thread.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from opsbook.checks.kinds.postgres import PostgresCheck, libpq_dsn
from opsbook.redact import redact


@dataclass
class Outcome:
    ok: bool
    duration_s: float
    error: str = ""
    steps: list[dict[str, Any]] = field(default_factory=list)


def _ms(value: timedelta) -> int:
    return max(1, int(value.total_seconds() * 1000))


def execute(spec: PostgresCheck, statements: list[str], lock_timeout: timedelta,
            statement_timeout: timedelta) -> Outcome:
    import psycopg  # loaded when maintenance runs, not by every `serve` (bench/footprint.py)

    started = time.perf_counter()
    steps: list[dict[str, Any]] = []
    try:
        with psycopg.connect(
            libpq_dsn(spec.dsn), autocommit=True, application_name="opsbook maintenance",
            connect_timeout=max(2, math.ceil(spec.timeout.total_seconds())),
        ) as conn:
            conn.execute(f"SET lock_timeout = {_ms(lock_timeout)}")
            conn.execute(f"SET statement_timeout = {_ms(statement_timeout)}")
            for sql in statements:
                step_started = time.perf_counter()
                try:
                    cur = conn.execute(sql)  # the operator's own statement, from the config
                except psycopg.Error as exc:
                    error = redact(" ".join(str(exc).split()) or type(exc).__name__, spec.secrets())
                    steps.append(_step(len(steps), sql, 1, step_started, error))
                    return Outcome(False, time.perf_counter() - started, error, steps)
                steps.append(_step(len(steps), sql, 0, step_started, cur.statusmessage or ""))
    except (psycopg.Error, OSError) as exc:
        error = redact(f"{spec.target()}: {' '.join(str(exc).split())}", spec.secrets())
        return Outcome(False, time.perf_counter() - started, error, steps)
    return Outcome(True, time.perf_counter() - started, "", steps)


def _step(position: int, sql: str, code: int, started: float, output: str) -> dict[str, Any]:
    return {"position": position, "title": sql[:200], "kind": "sql", "command": sql, "exit_code": code,
            "status": "done" if code == 0 else "failed",
            "duration_s": round(time.perf_counter() - started, 3), "output": output}
