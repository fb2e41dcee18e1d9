"""Receives heartbeat pings and records a failure at the moment a ping is overdue.

Deadlines live in memory (rebuilt from the last pings in the database at start), so one loop waits
for the earliest; a ping moves its check's deadline. Tokens come from the config or are generated
once and stored. Every ping is also kept in the check's ping log (`PingRow`, the newest `KEEP_PINGS`),
with what the job sent: a `/log` ping only goes there (it changes no state and moves no deadline).

In a cluster every process with the API receives pings, but only the worker leasing a heartbeat check
watches its deadline (`assign`, as the scheduler), and before it records a miss it reads the check's
last ping from the database: a ping another process received moves the deadline instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from opsbook.checks.kinds.heartbeat import HeartbeatCheck
from opsbook.checks.models import CheckStateRow, PingRow
from opsbook.checks.result import CheckResult, StoredResult
from opsbook.checks.scheduler import ResultSink
from opsbook.clock import Clock
from opsbook.timefmt import show_time

KEEP_PINGS = 100
"""Pings kept per check in its ping log (older ones are deleted as new ones come)."""
MAX_PING_TEXT = 10_000
SIGNALS = ("start", "fail", "log")
"""What may follow `/ping/<token>/`, besides an exit code (0–255)."""
MISSED_PREFIX = "no ping by"
"""How the result of a missed ping begins (a backup job's missed ping is no backup)."""
PING_VALUES = {"size": "size_bytes", "size_bytes": "size_bytes", "duration": "duration_s",
               "duration_s": "duration_s"}
"""Numbers a ping may report, in its query or body, and the values they become (backup jobs)."""


def ping_values(query: Mapping[str, str], body: str) -> dict[str, float]:
    """`size=BYTES` / `duration=SECONDS` from the query string, a JSON object body or `key=value` lines."""
    found: dict[str, str] = {k: v for k, v in query.items() if k in PING_VALUES}
    text = body.strip()
    if text.startswith("{"):
        with contextlib.suppress(ValueError):
            document = json.loads(text)
            if isinstance(document, dict):
                found.update({k: str(v) for k, v in document.items() if k in PING_VALUES})
    else:
        for line in text.splitlines():
            key, sep, value = line.partition("=")
            if sep and key.strip() in PING_VALUES:
                found[key.strip()] = value.strip()
    out: dict[str, float] = {}
    for key, value in found.items():
        with contextlib.suppress(ValueError):
            number = float(value)
            if number >= 0 and number == number and number != float("inf"):
                out[PING_VALUES[key]] = number
    return out


def ping_record(check_id: str, now: datetime, signal: str, body: str) -> PingRow:
    """The ping log's row of a ping: its kind (start, success, fail, exit, log), exit code and text."""
    code = int(signal) if signal.isdigit() else None
    kind = signal or "success" if code is None else "success" if code == 0 else "exit"
    text = body.replace("\x00", "").strip()[:MAX_PING_TEXT]  # PostgreSQL text holds no NUL
    return PingRow(check_id=check_id, ts=now, kind=kind, exit_code=code, message=text)


def keep_log(session: Session, logged: PingRow) -> None:
    """Add a ping to its check's log and drop the pings older than the newest `KEEP_PINGS`."""
    session.add(logged)
    session.flush()
    oldest_kept = session.scalar(
        select(PingRow.id).where(PingRow.check_id == logged.check_id)
        .order_by(PingRow.id.desc()).offset(KEEP_PINGS - 1).limit(1)
    )
    if oldest_kept is not None:
        session.execute(delete(PingRow).where(PingRow.check_id == logged.check_id, PingRow.id < oldest_kept))


def recent_pings(session: Session, check_id: str, limit: int = KEEP_PINGS) -> list[PingRow]:
    """The check's ping log, newest first."""
    return list(session.scalars(select(PingRow).where(PingRow.check_id == check_id)
                                .order_by(PingRow.id.desc()).limit(limit)))


@dataclass
class Beat:
    check_id: str
    spec: HeartbeatCheck
    token: str
    deadline: datetime
    expected: datetime  # the expected ping time the deadline belongs to
    started_at: datetime | None = None


def ensure_tokens(
    session: Session, checks: Mapping[str, HeartbeatCheck], now: datetime
) -> dict[str, CheckStateRow]:
    """Give every heartbeat check a state row with its ping token (configured, or generated once)."""
    rows = {
        r.check_id: r
        for r in session.scalars(select(CheckStateRow).where(CheckStateRow.check_id.in_(checks)))
    }
    for check_id, spec in checks.items():
        row = rows.get(check_id)
        if row is None:
            row = CheckStateRow(check_id=check_id, consecutive_failures=0, last_message="", created_at=now)
            session.add(row)
            rows[check_id] = row
        if spec.token and row.ping_token != spec.token:
            row.ping_token = spec.token
        elif not spec.token and not row.ping_token:
            row.ping_token = secrets.token_urlsafe(18)
        if row.created_at is None:
            row.created_at = now
    return rows


class HeartbeatWatch:
    def __init__(
        self,
        checks: Mapping[str, HeartbeatCheck],
        clock: Clock,
        sink: ResultSink,
        sessions: sessionmaker[Session],
        zone: str = "UTC",
    ) -> None:
        self.checks = {cid: spec for cid, spec in checks.items() if spec.enabled}
        self.clock = clock
        self.zone = zone  # the team's: a missed ping's message says its deadline in it
        self.sink = sink
        self.sessions = sessions
        self.beats: dict[str, Beat] = {}
        self.by_token: dict[str, str] = {}
        self._changed = asyncio.Event()
        self.owned: frozenset[str] | None = None  # whose deadlines this process watches (None: all)

    def assign(self, owned: frozenset[str] | None) -> None:
        """Watch the deadlines of these checks from now on (None: every one); call on the event loop."""
        self.owned = owned  # a ping another process had since is read before any miss is recorded
        self._changed.set()

    def _catch_up(self, beat: Beat) -> bool:
        """Move the deadline past a ping stored by another process (blocking); whether it moved."""
        with self.sessions() as session:
            last = session.scalar(
                select(CheckStateRow.last_ping_at).where(CheckStateRow.check_id == beat.check_id)
            )
        if last is None:
            return False
        expected = beat.spec.next_expected(last)
        if expected + beat.spec.grace <= beat.deadline:
            return False
        beat.expected, beat.deadline = expected, expected + beat.spec.grace
        return True

    def load(self) -> None:
        """Read tokens and last pings from the store; call once before `run` (blocking I/O)."""
        now = self.clock.now()
        with self.sessions.begin() as session:
            rows = ensure_tokens(session, self.checks, now)
            for check_id, spec in self.checks.items():
                row = rows[check_id]
                assert row.ping_token is not None
                reference = row.last_ping_at or row.created_at or now
                expected = spec.next_expected(reference)
                while row.last_ts is not None and expected + spec.grace <= row.last_ts:
                    expected = spec.next_expected(expected)  # that miss was recorded before a restart
                self.beats[check_id] = Beat(
                    check_id, spec, row.ping_token, expected + spec.grace, expected, row.last_start_at
                )
                self.by_token[row.ping_token] = check_id

    def knows(self, token: str) -> bool:
        return token in self.by_token

    async def ping(
        self, token: str, signal: str = "", body: str = "", reported: Mapping[str, float] | None = None
    ) -> str | None:
        """Record a ping; `signal` is '', 'start', 'fail', 'log' or an exit code; `reported`: numbers the job
        sent (`ping_values`), kept as the result's values. None for an unknown token."""
        check_id = self.by_token.get(token)
        if check_id is None:
            return None
        beat = self.beats[check_id]
        now = self.clock.now()
        logged = ping_record(check_id, now, signal, body)
        detail = f": {logged.message[:500]}" if logged.message else ""
        if signal == "log":
            await asyncio.to_thread(self._persist, logged, None, None)
            return "logged"
        if signal == "start":
            beat.started_at = now
            await asyncio.to_thread(self._persist, logged, None, now)
            return "started"
        values: dict[str, float] = dict(reported or {})
        if beat.started_at is not None:
            values["duration_s"] = (now - beat.started_at).total_seconds()
            beat.started_at = None
        if signal == "fail" or (signal.isdigit() and int(signal) != 0):
            reason = "job reported failure" if signal == "fail" else f"job exited with code {signal}"
            result = CheckResult.down(f"{reason}{detail}", **values)
        else:
            result = CheckResult.up(message=f"ping received{detail}", **values)
        beat.expected = beat.spec.next_expected(now)
        beat.deadline = beat.expected + beat.spec.grace
        self.sink(StoredResult(check_id, now, result))
        self._changed.set()
        await asyncio.to_thread(self._persist, logged, now, None)
        return "ok" if result.ok else "failed"

    def _persist(self, logged: PingRow, pinged: datetime | None, started: datetime | None) -> None:
        with self.sessions.begin() as session:
            keep_log(session, logged)
            row = session.get(CheckStateRow, logged.check_id)
            if row is None:
                return
            if pinged is not None:
                row.last_ping_at = pinged
                row.last_start_at = None
            if started is not None:
                row.last_start_at = started

    def missed(self, beat: Beat) -> StoredResult:
        result = CheckResult.down(
            f"{MISSED_PREFIX} {show_time(beat.deadline, self.zone, seconds=True)} ({beat.spec.expectation()})"
        )
        stored = StoredResult(beat.check_id, beat.deadline, result)
        beat.expected = beat.spec.next_expected(beat.expected)
        beat.deadline = beat.expected + beat.spec.grace
        return stored

    async def run(self) -> None:
        while True:
            self._changed.clear()
            watched = [b for b in self.beats.values() if self.owned is None or b.check_id in self.owned]
            if not watched:
                await self._changed.wait()
                continue
            beat = min(watched, key=lambda b: b.deadline)
            if beat.deadline <= self.clock.now():
                if self.owned is not None and await asyncio.to_thread(self._catch_up, beat):
                    continue  # pinged at another process
                self.sink(self.missed(beat))
                continue
            sleeper = asyncio.ensure_future(self.clock.sleep_until(beat.deadline))
            changed = asyncio.ensure_future(self._changed.wait())
            await asyncio.wait({sleeper, changed}, return_when=asyncio.FIRST_COMPLETED)
            sleeper.cancel()
            changed.cancel()
