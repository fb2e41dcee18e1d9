"""Silences and one-off maintenance windows in the database: their rows, states, look-ups and changes.

The changes here (create, expire, cancel) validate their input and write the row in the caller's
session; they record nothing else. People change silences and windows through the use cases of
`opsbook.silences.service`, which add the audit row and the domain event. Bad input raises
`SilenceError` (Invalid: HTTP 400, CLI exit 2); an unknown id `NotFound` (404, exit 1); expiring or
cancelling what has already ended `AlreadyEnded` (Conflict: 409, exit 1).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from opsbook.auth.roles import Principal
from opsbook.errors import Conflict, Invalid, NotFound
from opsbook.silences.matchers import Matcher, check_not_too_broad, matchers_from_json
from opsbook.silences.models import MaintenanceRow, SilenceRow
from opsbook.silences.mute import OneOffWindow, Silence
from opsbook.timefmt import show_time

SilenceState = Literal["active", "pending", "expired"]
STATES: tuple[SilenceState, ...] = ("active", "pending", "expired")
_SERVICE = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")


class SilenceError(Invalid):
    """Input that cannot make a silence or maintenance window."""


class AlreadyEnded(Conflict):
    """The silence or window has already expired, ended or been cancelled."""


def _aware(value: datetime, what: str) -> datetime:
    if value.tzinfo is None:
        raise SilenceError(f"{what} needs a time zone (e.g. 2024-05-01T12:00:00Z)")
    return value


def _end(
    what: str, now: datetime, start: datetime, ends_at: datetime | None, duration: timedelta | None,
    zone: str,
) -> datetime:
    """The end of a `what` (silence, maintenance window): `ends_at`, or `duration` after its start; it
    must be after both now and the start (the refusal says it in the team's `zone`)."""
    if ends_at is not None and duration is None:
        end = _aware(ends_at, "ends_at")
    elif duration is not None and ends_at is None:
        end = start + duration
    else:
        raise SilenceError("give exactly one of ends_at and duration")
    if end <= now:
        raise SilenceError(f"a {what} must end in the future (it would end {show_time(end, zone)})")
    if end <= start:
        raise SilenceError(f"a {what} must end after it starts")
    return end


def _author(actor: Principal) -> str:
    return actor.name[:100]


# --- silences -------------------------------------------------------------------------------------


def to_silence(row: SilenceRow) -> Silence:
    return Silence(
        id=row.id, matchers=matchers_from_json(row.matchers), starts_at=row.starts_at, ends_at=row.ends_at,
        created_by=row.created_by, comment=row.comment, expired_at=row.expired_at,
    )


def silence_state(row: SilenceRow, now: datetime) -> SilenceState:
    return to_silence(row).state(now)


def create_silence(
    session: Session,
    now: datetime,
    actor: Principal,
    matchers: Sequence[Matcher],
    *,
    comment: str,
    ends_at: datetime | None = None,
    duration: timedelta | None = None,
    starts_at: datetime | None = None,
    zone: str = "UTC",
) -> SilenceRow:
    """A new silence of alerts matching every matcher, from `starts_at` (default now) until `ends_at` or
    for `duration` from its start (give one of them); `zone`: the team's, for times in refusals."""
    check_not_too_broad(matchers)
    comment = (comment or "").strip()
    if not comment:
        raise SilenceError("a silence needs a comment saying why (e.g. 'deploy of api 1.4')")
    start = _aware(starts_at, "starts_at") if starts_at is not None else now
    end = _end("silence", now, start, ends_at, duration, zone)
    row = SilenceRow(
        matchers=[m.to_json() for m in matchers], starts_at=max(start, now), ends_at=end,
        created_by=_author(actor), comment=comment, created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def get_silence(session: Session, silence_id: int) -> SilenceRow:
    row = session.get(SilenceRow, silence_id)
    if row is None:
        raise NotFound(f"no silence {silence_id}")
    return row


def list_silences(
    session: Session, now: datetime, state: SilenceState | None = None, limit: int = 500
) -> list[SilenceRow]:
    """Silences in one state (all if None), newest first."""
    query = select(SilenceRow)
    live = SilenceRow.expired_at.is_(None)
    if state == "active":
        query = query.where(live, SilenceRow.starts_at <= now, SilenceRow.ends_at > now)
    elif state == "pending":
        query = query.where(live, SilenceRow.starts_at > now)
    elif state == "expired":
        query = query.where(or_(SilenceRow.expired_at.is_not(None), SilenceRow.ends_at <= now))
    elif state is not None:
        raise SilenceError(f"{state!r} is not a silence state; use one of {', '.join(STATES)}")
    return list(session.scalars(query.order_by(SilenceRow.id.desc()).limit(limit)))


def expire_silence(session: Session, now: datetime, actor: Principal, silence_id: int) -> SilenceRow:
    """End a silence now (a pending one never starts). Alerts it muted that still fire will notify."""
    row = get_silence(session, silence_id)
    if silence_state(row, now) == "expired":
        raise AlreadyEnded(f"silence {silence_id} has already expired")
    row.expired_at = now
    row.expired_by = _author(actor)
    return row


# --- one-off maintenance windows ------------------------------------------------------------------


def to_window(row: MaintenanceRow) -> OneOffWindow:
    return OneOffWindow(
        id=row.id, services=tuple(row.services), starts_at=row.starts_at, ends_at=row.ends_at,
        title=row.title, description=row.description, created_by=row.created_by,
        cancelled_at=row.cancelled_at,
    )


def create_maintenance(
    session: Session,
    now: datetime,
    actor: Principal,
    services: Sequence[str],
    *,
    starts_at: datetime,
    title: str,
    ends_at: datetime | None = None,
    duration: timedelta | None = None,
    description: str = "",
    known_services: Collection[str] | None = None,
    zone: str = "UTC",
) -> MaintenanceRow:
    """A one-off maintenance window: alerts of `services` are muted from `starts_at` until `ends_at` or
    for `duration` (give one of them); `zone`: the team's, for times in refusals."""
    names = sorted({s.strip() for s in services if s.strip()})
    if not names:
        raise SilenceError("a maintenance window needs at least one service")
    for name in names:
        if not _SERVICE.match(name):
            raise SilenceError(f"{name!r} is not a service name")
        if known_services is not None and name not in known_services:
            known = ", ".join(sorted(known_services)) or "none"
            raise SilenceError(f"unknown service {name!r}; known: {known}")
    title = (title or "").strip()
    if not title:
        raise SilenceError("a maintenance window needs a title (it is shown on the status page)")
    if len(title) > 200:
        raise SilenceError("a maintenance window's title is at most 200 characters")
    start = _aware(starts_at, "starts_at")
    end = _end("maintenance window", now, start, ends_at, duration, zone)
    row = MaintenanceRow(
        services=names, starts_at=start, ends_at=end, title=title, description=description or "",
        created_by=_author(actor), created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def get_maintenance(session: Session, window_id: int) -> MaintenanceRow:
    row = session.get(MaintenanceRow, window_id)
    if row is None:
        raise NotFound(f"no maintenance window {window_id}")
    return row


def list_maintenance(
    session: Session, now: datetime, include_past: bool = False, limit: int = 500
) -> list[MaintenanceRow]:
    """One-off windows, soonest first; without `include_past` only those not ended nor cancelled."""
    query = select(MaintenanceRow)
    if not include_past:
        query = query.where(MaintenanceRow.cancelled_at.is_(None), MaintenanceRow.ends_at > now)
    return list(session.scalars(query.order_by(MaintenanceRow.starts_at, MaintenanceRow.id).limit(limit)))


def cancel_maintenance(session: Session, now: datetime, actor: Principal, window_id: int) -> MaintenanceRow:
    """Cancel a one-off window (or end one in progress now)."""
    row = get_maintenance(session, window_id)
    if row.cancelled_at is not None or row.ends_at <= now:
        raise AlreadyEnded(f"maintenance window {window_id} has already ended or been cancelled")
    row.cancelled_at = now
    row.cancelled_by = _author(actor)
    return row
