"""Silences and one-off maintenance windows in the store, and the mutes the pipeline consults.

Every mutating function takes the acting `Principal` and records an audit row in the caller's
transaction. Bad input raises `SilenceError` (a ValueError: HTTP 400, CLI exit 2); an unknown id
raises `NotFound`; expiring what has already ended raises `AlreadyEnded`.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from opsbook.auth.audit import record
from opsbook.auth.roles import Principal
from opsbook.silences.config import MaintenanceWindowConfig
from opsbook.silences.matchers import Matcher, MatcherError, check_not_too_broad, matchers_from_json
from opsbook.silences.models import MaintenanceRow, SilenceRow
from opsbook.silences.mute import Mutes, OneOffWindow, Silence, Window
from opsbook.silences.windows import next_occurrences, occurrence_at

SilenceState = Literal["active", "pending", "expired"]
STATES: tuple[SilenceState, ...] = ("active", "pending", "expired")
_SERVICE = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")


class SilenceError(ValueError):
    """Input that cannot make a silence or maintenance window."""


class NotFound(LookupError):
    """No silence or maintenance window with that id."""


class AlreadyEnded(Exception):
    """The silence or window has already expired, ended or been cancelled."""


def _aware(value: datetime, what: str) -> datetime:
    if value.tzinfo is None:
        raise SilenceError(f"{what} needs a time zone (e.g. 2024-05-01T12:00:00Z)")
    return value


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
    ends_at: datetime,
    comment: str,
    starts_at: datetime | None = None,
) -> SilenceRow:
    """A new silence of alerts matching every matcher, from `starts_at` (default now) until `ends_at`."""
    try:
        check_not_too_broad(matchers)
    except MatcherError as exc:
        raise SilenceError(str(exc)) from None
    comment = (comment or "").strip()
    if not comment:
        raise SilenceError("a silence needs a comment saying why (e.g. 'deploy of api 1.4')")
    start = _aware(starts_at, "starts_at") if starts_at is not None else now
    end = _aware(ends_at, "ends_at")
    if end <= now:
        raise SilenceError(f"a silence must end in the future (it would end {end.isoformat()})")
    if end <= start:
        raise SilenceError("a silence must end after it starts")
    row = SilenceRow(
        matchers=[m.to_json() for m in matchers], starts_at=max(start, now), ends_at=end,
        created_by=_author(actor), comment=comment, created_at=now,
    )
    session.add(row)
    session.flush()
    record(session, now, actor, "silence.create", f"silence:{row.id}", matchers=[str(m) for m in matchers],
           starts_at=row.starts_at.isoformat(), ends_at=end.isoformat(), comment=comment)
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
    record(session, now, actor, "silence.expire", f"silence:{row.id}")
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
    ends_at: datetime,
    title: str,
    description: str = "",
    known_services: Collection[str] | None = None,
) -> MaintenanceRow:
    """A one-off maintenance window: alerts of `services` are muted in [starts_at, ends_at)."""
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
    start, end = _aware(starts_at, "starts_at"), _aware(ends_at, "ends_at")
    if end <= now:
        raise SilenceError(f"a maintenance window must end in the future (it would end {end.isoformat()})")
    if end <= start:
        raise SilenceError("a maintenance window must end after it starts")
    row = MaintenanceRow(
        services=names, starts_at=start, ends_at=end, title=title, description=description or "",
        created_by=_author(actor), created_at=now,
    )
    session.add(row)
    session.flush()
    record(session, now, actor, "maintenance.create", f"maintenance:{row.id}", services=names,
           starts_at=start.isoformat(), ends_at=end.isoformat(), title=title)
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
    record(session, now, actor, "maintenance.cancel", f"maintenance:{row.id}")
    return row


# --- what the pipeline and the status page read ---------------------------------------------------


def active_mutes(
    session: Session, now: datetime, config_windows: Sequence[MaintenanceWindowConfig] = ()
) -> Mutes:
    """Silences and windows active now or later (pending ones too, so `Mutes.next_change` sees them)."""
    silences = session.scalars(
        select(SilenceRow).where(SilenceRow.expired_at.is_(None), SilenceRow.ends_at > now)
    )
    one_offs = session.scalars(
        select(MaintenanceRow).where(MaintenanceRow.cancelled_at.is_(None), MaintenanceRow.ends_at > now)
    )
    windows: list[Window] = [w.to_window() for w in config_windows]
    windows += [to_window(row) for row in one_offs]
    return Mutes(silences=tuple(to_silence(row) for row in silences), windows=tuple(windows))


def mute_boundaries(
    session: Session,
    since: datetime,
    until: datetime,
    config_windows: Sequence[MaintenanceWindowConfig] = (),
    limit: int = 1000,
) -> list[datetime]:
    """Instants in (since, until] when a silence or window starts or ends (at most `limit`), sorted."""
    mutes = active_mutes(session, since, config_windows)
    out: list[datetime] = []
    t = since
    while len(out) < limit and (change := mutes.next_change(t)) is not None and change <= until:
        out.append(change)
        t = change
    return out


@dataclass(frozen=True)
class UpcomingMaintenance:
    """One maintenance period for the status page: a one-off window or an occurrence of a recurring one."""

    ref: str  # "maintenance:#12" (one-off) or "maintenance:sunday-db" (config)
    source: Literal["one-off", "recurring"]
    title: str
    description: str
    services: tuple[str, ...]
    starts_at: datetime
    ends_at: datetime
    in_progress: bool


def upcoming_maintenance(
    session: Session,
    now: datetime,
    config_windows: Sequence[MaintenanceWindowConfig] = (),
    horizon: timedelta = timedelta(days=14),
    per_window: int = 20,
) -> list[UpcomingMaintenance]:
    """Maintenance in progress or starting within `horizon`, soonest first (`per_window` at most each)."""
    until = now + horizon
    out: list[UpcomingMaintenance] = []
    for row in list_maintenance(session, now):
        if row.starts_at < until:
            out.append(UpcomingMaintenance(
                f"maintenance:#{row.id}", "one-off", row.title, row.description, tuple(row.services),
                row.starts_at, row.ends_at, row.starts_at <= now,
            ))
    for cfg in config_windows:
        window = cfg.to_window()
        occurrences = []
        current = occurrence_at(window, now)
        if current is not None:
            occurrences.append(current)
        occurrences += [o for o in next_occurrences(window, now, per_window) if o.start < until]
        for occ in occurrences[:per_window]:
            out.append(UpcomingMaintenance(
                f"maintenance:{window.name}", "recurring", window.title, window.description,
                tuple(cfg.services), occ.start, occ.end, occ.start <= now,
            ))
    out.sort(key=lambda m: (m.starts_at, m.ref))
    return out

