"""What people change about silences and maintenance windows (use cases), and the mutes that the
pipeline and the status page read.

Each use case owns its transaction, its audit row and its `Topic.MUTES` event, which makes the unmute
loop look again and the status page rebuild; the API, the web UI and the CLI only call them. Their
errors are those of `opsbook.silences.store` (and `Forbidden` below the responder role).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbook.auth.roles import Principal, Role
from opsbook.events import DomainEvent, Topic
from opsbook.runtime import Runtime
from opsbook.silences import store
from opsbook.silences.config import MaintenanceWindowConfig
from opsbook.silences.matchers import Matcher
from opsbook.silences.models import MaintenanceRow, SilenceRow
from opsbook.silences.mute import Mutes, Scoped, Window, covered_services
from opsbook.silences.windows import next_occurrences, occurrence_at
from opsbook.usecase import transaction

# --- use cases ------------------------------------------------------------------------------------


def add_silence(
    runtime: Runtime,
    actor: Principal,
    matchers: Sequence[Matcher],
    *,
    comment: str,
    ends_at: datetime | None = None,
    duration: timedelta | None = None,
    starts_at: datetime | None = None,
) -> SilenceRow:
    """Mute notifications of alerts matching every matcher, from `starts_at` (default now) until `ends_at`
    or for `duration` from its start (give one of them)."""
    with transaction(runtime, actor, needs=Role.RESPONDER) as tx:
        row = store.create_silence(tx.session, tx.now, actor, matchers, comment=comment, ends_at=ends_at,
                                   duration=duration, starts_at=starts_at, zone=runtime.config.timezone)
        tx.audit("silence.create", f"silence:{row.id}", matchers=[str(m) for m in matchers],
                 starts_at=row.starts_at.isoformat(), ends_at=row.ends_at.isoformat(), comment=row.comment)
        tx.emit(DomainEvent(Topic.MUTES, "silence added", f"silence:{row.id}"))
        return row


def expire_silence(runtime: Runtime, actor: Principal, silence_id: int) -> SilenceRow:
    """End a silence now (a pending one never starts); alerts it muted that still fire will notify."""
    with transaction(runtime, actor, needs=Role.RESPONDER) as tx:
        row = store.expire_silence(tx.session, tx.now, actor, silence_id)
        tx.audit("silence.expire", f"silence:{row.id}")
        tx.emit(DomainEvent(Topic.MUTES, "silence expired", f"silence:{row.id}"))
        return row


def add_maintenance(
    runtime: Runtime,
    actor: Principal,
    services: Sequence[str],
    *,
    starts_at: datetime,
    title: str,
    ends_at: datetime | None = None,
    duration: timedelta | None = None,
    description: str = "",
) -> MaintenanceRow:
    """Schedule a one-off maintenance window of services the config knows, until `ends_at` or for
    `duration` (give one of them); it shows on the status page and mutes their alerts."""
    with transaction(runtime, actor, needs=Role.RESPONDER) as tx:
        row = store.create_maintenance(
            tx.session, tx.now, actor, services, starts_at=starts_at, title=title, ends_at=ends_at,
            duration=duration, description=description,
            known_services={s.name for s in runtime.config.services}, zone=runtime.config.timezone,
        )
        tx.audit("maintenance.create", f"maintenance:{row.id}", services=row.services,
                 starts_at=row.starts_at.isoformat(), ends_at=row.ends_at.isoformat(), title=row.title)
        tx.emit(DomainEvent(Topic.MUTES, "maintenance added", f"maintenance:{row.id}"))
        return row


def remove_maintenance(runtime: Runtime, actor: Principal, window_id: int) -> MaintenanceRow:
    """Cancel a one-off maintenance window (one in progress ends now)."""
    with transaction(runtime, actor, needs=Role.RESPONDER) as tx:
        row = store.cancel_maintenance(tx.session, tx.now, actor, window_id)
        tx.audit("maintenance.cancel", f"maintenance:{row.id}")
        tx.emit(DomainEvent(Topic.MUTES, "maintenance removed", f"maintenance:{row.id}"))
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
    windows += [store.to_window(row) for row in one_offs]
    return Mutes(silences=tuple(store.to_silence(row) for row in silences), windows=tuple(windows))


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
    *,
    services: Sequence[Scoped],
) -> list[UpcomingMaintenance]:
    """Maintenance in progress or starting within `horizon`, soonest first (`per_window` at most each);
    a recurring window's services are those of `services` (the config's) it covers (`covered_services`)."""
    until = now + horizon
    out: list[UpcomingMaintenance] = []
    for row in store.list_maintenance(session, now):
        if row.starts_at < until:
            out.append(UpcomingMaintenance(
                f"maintenance:#{row.id}", "one-off", row.title, row.description, tuple(row.services),
                row.starts_at, row.ends_at, row.starts_at <= now,
            ))
    for cfg in config_windows:
        window = cfg.to_window()
        covered = covered_services(window, services)
        occurrences = []
        current = occurrence_at(window, now)
        if current is not None:
            occurrences.append(current)
        occurrences += [o for o in next_occurrences(window, now, per_window) if o.start < until]
        for occ in occurrences[:per_window]:
            out.append(UpcomingMaintenance(
                f"maintenance:{window.name}", "recurring", window.title, window.description,
                covered, occ.start, occ.end, occ.start <= now,
            ))
    out.sort(key=lambda m: (m.starts_at, m.ref))
    return out

