"""The delivery worker: claims due outbox rows, sends them through Apprise, records every attempt.

Claiming:
- PostgreSQL: `UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED)`, so any number of workers
  never claim the same row at once;
- SQLite: the same UPDATE, made atomic by SQLite's single writer.
A claim sets `status=sending`, `claimed_by` and `lease_until`. A row whose lease expired (its worker died
mid-send) is due again and claimed by the next worker: delivery is at least once, and every delivery
carries the same message id each time (`apprise_send.message_id`), so a receiver can drop a repeat.

Sending: rows of one channel and one `group_key` claimed together go out as one message (the `group`
template). A channel's rate limit defers rows (back to pending, due when a token arrives) without
counting an attempt; on PostgreSQL its bucket is shared by every worker (opsbook.notify.shared_limits).
A failure is retried with exponential backoff and jitter (retry.py); after
`max_attempts` or `max_age` the row is `failed` and `on_give_up(session, GiveUp)` is called in the same
transaction, so the alert about it commits with the failure. All waiting uses the injected Clock.

Running: the worker is a supervised `Loop` (opsbook.loops). Each round (`step`) sends what is due and
says when the next row falls due (at most `poll_interval` ahead); `wake()` (a committed
`Topic.OUTBOX` event: new or retried messages) runs a round at once. `stop()` lets the batch being sent
finish and be recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from opsbook.clock import Clock
from opsbook.loops import Loop, Looped, Supervisor
from opsbook.notify import apprise_send
from opsbook.notify.apprise_send import SendOutcome
from opsbook.notify.config import Channel, NotifySettings, RateLimit
from opsbook.notify.contacts import contact_channels
from opsbook.notify.models import FAILED, PENDING, SENDING, SENT, AttemptRow, OutboxRow
from opsbook.notify.ratelimit import RateLimiter
from opsbook.notify.retry import backoff_delay, should_give_up
from opsbook.notify.shared_limits import SharedRateLimiter
from opsbook.notify.templates import render
from opsbook.redact import redact
from opsbook.rules.severity import Severity

if TYPE_CHECKING:
    from opsbook.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GiveUp:
    """A message the worker stopped trying to deliver (passed to `on_give_up`)."""

    outbox_id: int
    channel: str
    kind: str
    severity: str | None
    subject: str
    service: str | None
    check_id: str | None
    alert_id: int | None
    incident_id: int | None
    attempts: int
    last_error: str
    created_at: datetime
    given_up_at: datetime


GiveUpHook = Callable[[Session, GiveUp], None]
"""Called in the transaction that marks the row failed; what it adds to the session commits with it."""

AttemptHook = Callable[[str, bool, float], None]
"""Called after every attempt with (channel, ok, duration_ms): for metrics."""

ChannelResolver = Callable[[str], "tuple[Channel, frozenset[str]] | None"]
"""Finds a channel that is not in the config (a status page subscriber's), with the secrets of its send;
called in a worker thread at delivery. The channel's `name` is its rate-limit bucket."""


class Sender(Protocol):
    def __call__(
        self, url: str, title: str, body: str, *, message_id: str, notify_type: str, timeout: float,
        secrets: Iterable[str],
    ) -> Awaitable[SendOutcome]: ...


@dataclass(frozen=True)
class Claimed:
    """A snapshot of a row this worker claimed."""

    id: int
    channel: str
    kind: str
    severity: str | None
    subject: str
    body: str
    group_key: str | None
    service: str | None
    check_id: str | None
    alert_id: int | None
    incident_id: int | None
    refs: dict[str, Any]
    attempts: int
    age_from: datetime
    created_at: datetime


_CLAIM_COLUMNS = (
    OutboxRow.id,
    OutboxRow.channel,
    OutboxRow.kind,
    OutboxRow.severity,
    OutboxRow.subject,
    OutboxRow.body,
    OutboxRow.group_key,
    OutboxRow.service,
    OutboxRow.check_id,
    OutboxRow.alert_id,
    OutboxRow.incident_id,
    OutboxRow.refs,
    OutboxRow.attempts,
    OutboxRow.age_from,
    OutboxRow.created_at,
)


def notify_type_for(kind: str, severity: str | None, refs: dict[str, Any]) -> str:
    """Apprise's message type: failure for firing P0-P2, warning for P3/P4, success if resolved, else info."""
    explicit = refs.get("notify_type")
    if isinstance(explicit, str) and explicit in ("info", "success", "warning", "failure"):
        return explicit
    if kind == "resolved":
        return "success"
    if kind in ("firing", "incident"):
        try:
            urgent = Severity.parse(severity or "P2").rank <= 2
        except ValueError:
            urgent = True
        return "failure" if urgent else "warning"
    return "info"


def _default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _dead_local_owner(owner: str | None) -> bool:
    """True if `owner` (host:pid:nonce of this host) is a process that is gone."""
    parts = (owner or "").rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return True  # same pid, other worker id: an earlier life of this process slot
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OSError):
        return False
    return False


class DeliveryWorker(Looped):
    """Delivers the outbox: `start()` runs its loop as a task; `run_once()` is one claim-send-record pass."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        channels: Sequence[Channel],
        settings: NotifySettings | None = None,
        *,
        on_give_up: GiveUpHook | None = None,
        on_attempt: AttemptHook | None = None,
        sender: Sender | None = None,
        secrets: Iterable[str] = (),
        worker_id: str | None = None,
        rng: random.Random | None = None,
        timezone: str = "UTC",
        title: str = "opsbook",
        base_url: str = "",
        supervisor: Supervisor | None = None,
        resolve: ChannelResolver | None = None,
    ) -> None:
        self.sessions = sessions
        self.resolve = resolve
        self.clock = clock
        self.channels = {c.name: c for c in channels}
        self.settings = settings or NotifySettings()
        self.on_give_up = on_give_up
        self.on_attempt = on_attempt
        self.sender: Sender = sender or apprise_send.send
        self.worker_id = worker_id or _default_worker_id()
        self.rng = rng or random.Random()  # noqa: S311 - retry jitter, not cryptographic
        self.timezone = timezone
        self.title = title
        self.base_url = base_url
        bind = sessions.kw.get("bind")
        self.shared_limits = bind is not None and bind.dialect.name == "postgresql"
        self.limiter: RateLimiter | SharedRateLimiter = (
            SharedRateLimiter(sessions) if self.shared_limits else RateLimiter()
        )  # on PostgreSQL a channel's limit holds across every worker of the cluster
        self._secrets = set(secrets)
        for channel in channels:
            self._secrets |= channel.secrets()
        apprise_send.register_secrets(self._secrets)
        self._orphans_released = False
        self.loop = Loop(
            "delivery", self.step, clock, max_wait=self.settings.poll_interval, supervisor=supervisor
        )

    @classmethod
    def from_runtime(cls, runtime: Runtime, **kwargs: Any) -> DeliveryWorker:
        """A worker configured from opsbook.yaml: its channels and people's contact methods (for pages and
        briefs), status page subscribers' channels, `notifications:`, time zone, title, base URL."""
        from opsbook.subscribers.channels import SubscriberChannels

        cfg = runtime.config
        kwargs.setdefault("resolve", SubscriberChannels(runtime.sessions, cfg, runtime.clock))
        return cls(
            runtime.sessions,
            runtime.clock,
            [*cfg.channels, *contact_channels(cfg)],
            cfg.notifications,
            secrets=runtime.loaded.all_secrets(),
            timezone=cfg.timezone,
            title=cfg.title,
            base_url=cfg.base_url,
            **kwargs,
        )

    def redact(self, text: str) -> str:
        return redact(text, self._secrets)

    # ---- the loop -------------------------------------------------------------------------------

    async def stop(self, *, cancel: bool = False) -> None:
        """Stop the loop; by default the batch being sent is finished and recorded first."""
        await self.loop.stop(finish_round=not cancel)

    async def step(self) -> datetime | None:
        """One round: send what is due; return when the next row falls due (now if more are waiting)."""
        if not self._orphans_released:
            self._orphans_released = True
            try:
                released = await asyncio.to_thread(self.release_orphans, self.clock.now())
            except Exception:
                log.exception("could not look for notifications left mid-send; their leases will expire")
            else:
                if released:
                    log.warning("took back %s notifications left mid-send by a stopped process", released)
        if await self.run_once() >= self.settings.batch_size:
            return self.clock.now()
        return await asyncio.to_thread(self._next_due)

    def _next_due(self) -> datetime | None:
        with self.sessions() as session:
            pending: datetime | None = session.scalar(
                select(func.min(OutboxRow.next_attempt_at)).where(OutboxRow.status == PENDING)
            )
            lease: datetime | None = session.scalar(
                select(func.min(OutboxRow.lease_until)).where(OutboxRow.status == SENDING)
            )
        found = [t for t in (pending, lease) if t is not None]
        return min(found) if found else None

    # ---- one pass -------------------------------------------------------------------------------

    async def run_once(self) -> int:
        """Claim what is due now, send it, record the outcome. Returns how many rows were claimed."""
        now = self.clock.now()
        claimed = await asyncio.to_thread(self.claim, now, None)
        if claimed:
            await self._deliver(claimed, now, final=False)
        return len(claimed)

    async def deliver_ids(self, ids: Sequence[int], *, final: bool = True) -> list[SendOutcome]:
        """Send these pending rows now, whatever their due time (for `opsbook notify test`).

        With `final`, a failure marks the row failed at once (no retries, no give-up hook).
        """
        now = self.clock.now()
        claimed = await asyncio.to_thread(self.claim, now, list(ids))
        if not claimed:
            return []
        return await self._deliver(claimed, now, final=final)

    def release_orphans(self, now: datetime) -> int:
        """Put back rows claimed by a dead worker process of this host (so a restart need not wait a lease).

        A claim belongs to a dead process if its worker id names this host and a pid that no longer
        runs, or this very pid under another id (a container restarted as pid 1). Claims of other
        hosts are left to their lease.
        """
        host = socket.gethostname()
        with self.sessions.begin() as session:
            claims = session.execute(
                select(OutboxRow.id, OutboxRow.claimed_by).where(
                    OutboxRow.status == SENDING, OutboxRow.claimed_by.like(f"{host}:%")
                )
            ).all()
            dead = [i for i, owner in claims if owner != self.worker_id and _dead_local_owner(owner)]
            if not dead:
                return 0
            session.execute(
                update(OutboxRow)
                .where(OutboxRow.id.in_(dead), OutboxRow.status == SENDING)
                .values(status=PENDING, next_attempt_at=now, claimed_by=None, lease_until=None)
                .execution_options(synchronize_session=False)
            )
        return len(dead)

    def claim(self, now: datetime, ids: list[int] | None = None) -> list[Claimed]:
        """Claim up to batch_size due rows (or these pending `ids`) for this worker, until now + lease."""
        with self.sessions.begin() as session:
            if ids is None:
                due = or_(
                    and_(OutboxRow.status == PENDING, OutboxRow.next_attempt_at <= now),
                    and_(OutboxRow.status == SENDING, OutboxRow.lease_until < now),
                )
            else:
                due = and_(OutboxRow.status == PENDING, OutboxRow.id.in_(ids))
            pick = select(OutboxRow.id).where(due).order_by(OutboxRow.next_attempt_at, OutboxRow.id)
            pick = pick.limit(self.settings.batch_size if ids is None else len(ids))
            if session.get_bind().dialect.name == "postgresql":
                pick = pick.with_for_update(skip_locked=True)
            stmt = (
                update(OutboxRow)
                .where(OutboxRow.id.in_(pick.scalar_subquery()))
                .values(status=SENDING, claimed_by=self.worker_id, lease_until=now + self.settings.lease)
                .returning(*_CLAIM_COLUMNS)
                .execution_options(synchronize_session=False)
            )
            rows = session.execute(stmt).all()
        claimed = [Claimed(*row) for row in rows]
        claimed.sort(key=lambda c: c.id)
        return claimed

    async def _deliver(self, claimed: list[Claimed], now: datetime, *, final: bool) -> list[SendOutcome]:
        groups: dict[tuple[str, str], list[Claimed]] = {}
        for row in claimed:
            groups.setdefault((row.channel, row.group_key or f"#{row.id}"), []).append(row)
        jobs = [self._deliver_group(rows, now, final=final) for rows in groups.values()]
        return list(await asyncio.gather(*jobs))

    async def _deliver_group(self, rows: list[Claimed], now: datetime, *, final: bool) -> SendOutcome:
        name = rows[0].channel
        channel = self.channels.get(name)
        extra: frozenset[str] = frozenset()
        if channel is None and self.resolve is not None:
            found = await asyncio.to_thread(self.resolve, name)
            if found is not None:
                channel, extra = found
        if channel is None:
            outcome = SendOutcome(False, f"channel {name!r} is not in the configuration (removed, renamed?)")
        else:
            retry_at = None if final else await self._acquire(channel.name, channel.rate_limit, now)
            if retry_at is not None:
                await asyncio.to_thread(self._defer, rows, retry_at)
                return SendOutcome(False, f"rate limited until {retry_at.isoformat()}")
            title, body = self._compose(rows)
            timeout = self.settings.send_timeout.total_seconds()
            try:
                outcome = await self.clock.wait_for(
                    self.sender(
                        channel.url,
                        title,
                        body,
                        message_id=apprise_send.message_id(r.id for r in rows),
                        notify_type=notify_type_for(rows[0].kind, rows[0].severity, rows[0].refs),
                        timeout=timeout,
                        secrets=self._secrets | extra,
                    ),
                    timeout + 5,
                )
            except TimeoutError:
                outcome = SendOutcome(False, f"no answer within {timeout:g}s", timeout * 1000)
            except Exception as exc:  # a sender must not raise; treat it as a failed attempt
                outcome = SendOutcome(False, f"{type(exc).__name__}: {exc}")
        outcome = SendOutcome(outcome.ok, redact(self.redact(outcome.error), extra), outcome.duration_ms)
        if self.on_attempt is not None:
            with contextlib.suppress(Exception):
                self.on_attempt(name, outcome.ok, outcome.duration_ms)
        try:
            await asyncio.to_thread(self._complete, rows, outcome, now, final)
        except Exception:
            # the rows stay claimed; when the lease runs out they are sent again (at least once)
            log.exception("could not record the delivery of notifications %s", [r.id for r in rows])
        return outcome

    def _compose(self, rows: list[Claimed]) -> tuple[str, str]:
        if len(rows) == 1:
            return rows[0].subject, rows[0].body
        severities = [r.severity for r in rows if r.severity]
        most_urgent = min(severities, key=lambda s: Severity.parse(s).rank) if severities else ""
        services = sorted({r.service for r in rows if r.service})
        message = render(
            "group",
            {
                "service": ", ".join(services),
                "severity": most_urgent,
                "kind": rows[0].kind,
                "count": len(rows),
                "items": [{"subject": r.subject, "body": r.body, "severity": r.severity} for r in rows],
            },
            self.settings.templates,
            timezone=self.timezone,
            opsbook=self.title,
            base_url=self.base_url,
        )
        return message.subject, message.body

    async def _acquire(self, channel: str, limit: RateLimit | None, now: datetime) -> datetime | None:
        """A token of the channel's rate limit, or when to try again (the shared buckets in a thread)."""
        if self.shared_limits and limit is not None:
            return await asyncio.to_thread(self.limiter.acquire, channel, limit, now)
        return self.limiter.acquire(channel, limit, now)

    def _defer(self, rows: list[Claimed], until: datetime) -> None:
        with self.sessions.begin() as session:
            session.execute(
                update(OutboxRow)
                .where(
                    OutboxRow.id.in_([r.id for r in rows]),
                    OutboxRow.status == SENDING,
                    OutboxRow.claimed_by == self.worker_id,
                )
                .values(status=PENDING, next_attempt_at=until, claimed_by=None, lease_until=None)
                .execution_options(synchronize_session=False)
            )

    def _complete(self, rows: list[Claimed], outcome: SendOutcome, started: datetime, final: bool) -> None:
        now = self.clock.now()
        with self.sessions.begin() as session:
            give_ups: list[GiveUp] = []
            for row in rows:
                session.add(
                    AttemptRow(
                        outbox_id=row.id,
                        ts=started,
                        duration_ms=outcome.duration_ms,
                        ok=outcome.ok,
                        error=outcome.error,
                        worker=self.worker_id,
                    )
                )
                if outcome.ok:
                    session.execute(
                        update(OutboxRow)
                        .where(OutboxRow.id == row.id, OutboxRow.status.in_([SENDING, PENDING]))
                        .values(status=SENT, sent_at=now, claimed_by=None, lease_until=None, last_error="")
                        .execution_options(synchronize_session=False)
                    )
                    continue
                failures = row.attempts + 1
                give_up = final or should_give_up(failures, now - row.age_from, self.settings.retry)
                values: dict[str, Any] = {
                    "attempts": failures,
                    "last_error": outcome.error,
                    "claimed_by": None,
                    "lease_until": None,
                }
                if give_up:
                    values["status"] = FAILED
                else:
                    values["status"] = PENDING
                    delay = backoff_delay(failures, self.settings.retry, self.rng.random())
                    values["next_attempt_at"] = now + delay
                result = session.execute(
                    update(OutboxRow)
                    .where(
                        OutboxRow.id == row.id,
                        OutboxRow.status == SENDING,
                        OutboxRow.claimed_by == self.worker_id,
                    )
                    .values(**values)
                    .execution_options(synchronize_session=False)
                )
                if give_up and not final and int(getattr(result, "rowcount", 0) or 0) > 0:
                    give_ups.append(
                        GiveUp(
                            outbox_id=row.id,
                            channel=row.channel,
                            kind=row.kind,
                            severity=row.severity,
                            subject=row.subject,
                            service=row.service,
                            check_id=row.check_id,
                            alert_id=row.alert_id,
                            incident_id=row.incident_id,
                            attempts=failures,
                            last_error=outcome.error,
                            created_at=row.created_at,
                            given_up_at=now,
                        )
                    )
            session.flush()
            for gave_up in give_ups:
                log.error(
                    "gave up delivering notification %s to %s after %s attempts: %s",
                    gave_up.outbox_id,
                    gave_up.channel,
                    gave_up.attempts,
                    gave_up.last_error,
                )
                if self.on_give_up is None:
                    continue
                try:
                    with session.begin_nested():
                        self.on_give_up(session, gave_up)
                except Exception:
                    log.exception("the give-up hook failed for notification %s", gave_up.outbox_id)

