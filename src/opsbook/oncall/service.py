"""On-call: the changes people make (use cases), and shifts, who is on call, handoffs, gaps, feeds and
escalation targets over the config and the store.

Each use case (add or remove an override, leave a handoff note) owns its transaction, its audit row and
its `Topic.ONCALL` event; the API, the web UI and the CLI only call them. The queries have no clock of
their own: every one that needs the time takes `now` or `at`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbook.auth.roles import Principal, Role
from opsbook.config.schema import OpsbookConfig
from opsbook.events import DomainEvent, Topic
from opsbook.oncall import gaps as gaps_mod
from opsbook.oncall import store
from opsbook.oncall.config import split_target
from opsbook.oncall.models import HandoffNoteRow, OverrideRow
from opsbook.oncall.rotation import Override, Shift, shifts
from opsbook.oncall.store import get_schedule, get_user
from opsbook.runtime import Runtime
from opsbook.usecase import transaction

HORIZON = timedelta(days=35)
"""How far before and after an instant a shift's start and end are looked for."""
NOTE_GRACE = timedelta(hours=1)
"""A note written this soon after a handoff, by someone else than the incoming person, is still for them."""


# --- use cases ----------------------------------------------------------------------------------


def add_override(
    runtime: Runtime,
    actor: Principal,
    schedule: str,
    user: str,
    start: datetime,
    end: datetime,
    covers: str | None = None,
    reason: str = "",
) -> OverrideRow:
    """Put `user` on call on `schedule` over [start, end), over every layer."""
    with transaction(runtime, actor, needs=Role.RESPONDER) as tx:
        row = store.add_override(tx.session, runtime.config, tx.now, actor, schedule, user, start, end,
                                 covers=covers, reason=reason)
        tx.audit("oncall.override.add", f"schedule:{schedule}", override=row.id, user=user, covers=covers,
                 start=start.isoformat(), end=end.isoformat(), reason=reason)
        tx.emit(DomainEvent(Topic.ONCALL, "override added", f"schedule:{schedule}", {"override": row.id}))
        return row


def remove_override(runtime: Runtime, actor: Principal, override_id: int) -> OverrideRow:
    """Delete an override: the schedule's own rotation applies again over its stretch."""
    with transaction(runtime, actor, needs=Role.RESPONDER) as tx:
        row = store.remove_override(tx.session, override_id)
        target = f"schedule:{row.schedule}"
        tx.audit("oncall.override.remove", target, override=row.id, user=row.user,
                 start=row.start.isoformat(), end=row.end.isoformat())
        tx.emit(DomainEvent(Topic.ONCALL, "override removed", target, {"override": row.id}))
        return row


def add_handoff_note(runtime: Runtime, actor: Principal, schedule: str, note: str) -> HandoffNoteRow:
    """Keep a note for whoever takes over `schedule` next; it is in their handoff brief."""
    with transaction(runtime, actor, needs=Role.RESPONDER) as tx:
        row = store.add_handoff_note(tx.session, runtime.config, tx.now, actor, schedule, note)
        tx.audit("oncall.handoff.note", f"schedule:{schedule}", note_id=row.id)
        tx.emit(DomainEvent(Topic.ONCALL, "handoff note", f"schedule:{schedule}", {"note": row.id}))
        return row


# --- overrides ------------------------------------------------------------------------------------


def list_overrides(
    session: Session,
    schedule: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[OverrideRow]:
    """Overrides (of one schedule) overlapping [since, until), oldest first."""
    query = select(OverrideRow).order_by(OverrideRow.id)
    if schedule is not None:
        query = query.where(OverrideRow.schedule == schedule)
    if since is not None:
        query = query.where(OverrideRow.end > since)
    if until is not None:
        query = query.where(OverrideRow.start < until)
    return list(session.scalars(query))


def overrides_for(session: Session, schedule: str, start: datetime, end: datetime) -> list[Override]:
    """The overrides of `schedule` touching [start, end), in creation order (a later one wins)."""
    return [
        Override(r.user, r.start, r.end, id=r.id, covers=r.covers)
        for r in list_overrides(session, schedule, start, end)
    ]


# --- shifts and who is on call ---------------------------------------------------------------------


def schedule_shifts(
    session: Session, config: OpsbookConfig, schedule: str, start: datetime, end: datetime
) -> list[Shift]:
    """The final shifts of `schedule` over [start, end): layers, restrictions and overrides merged."""
    return shifts(get_schedule(config, schedule), start, end, overrides_for(session, schedule, start, end))


def shift_at(session: Session, config: OpsbookConfig, schedule: str, at: datetime) -> Shift | None:
    """The whole shift going on at `at` (start/end looked for up to 35 days away), or None."""
    for shift in schedule_shifts(session, config, schedule, at - HORIZON, at + HORIZON):
        if shift.contains(at):
            return shift
    return None


def on_call(session: Session, config: OpsbookConfig, schedule: str, at: datetime) -> str | None:
    """The user on call on `schedule` at `at`, or None."""
    shift = shift_at(session, config, schedule, at)
    return shift.user if shift else None


@dataclass(frozen=True)
class OnCallNow:
    """Who is on call on one schedule at an instant, who was before and who comes next."""

    schedule: str
    timezone: str
    at: datetime
    current: Shift | None
    previous: Shift | None
    next: Shift | None


def on_call_now(
    session: Session, config: OpsbookConfig, at: datetime, schedule: str | None = None
) -> list[OnCallNow]:
    """For each schedule (or the one named): the current, previous and next shift around `at`."""
    names = [schedule] if schedule is not None else [s.name for s in config.schedules]
    out: list[OnCallNow] = []
    for name in names:
        found = schedule_shifts(session, config, name, at - HORIZON, at + HORIZON)
        current = next((s for s in found if s.contains(at)), None)
        previous = next((s for s in reversed(found) if s.end <= at), None)
        upcoming = next((s for s in found if s.start > at), None)
        out.append(OnCallNow(name, get_schedule(config, name).timezone, at, current, previous, upcoming))
    return out


def user_shifts(
    session: Session, config: OpsbookConfig, user: str, start: datetime, end: datetime
) -> list[tuple[str, Shift]]:
    """Every shift of `user` over [start, end) on every schedule, as (schedule, shift), by start time."""
    get_user(config, user)
    found = [
        (s.name, shift)
        for s in config.schedules
        for shift in schedule_shifts(session, config, s.name, start, end)
        if shift.user == user
    ]
    return sorted(found, key=lambda pair: (pair[1].start, pair[0]))


def resolve_targets(
    session: Session, config: OpsbookConfig, targets: Iterable[str], at: datetime
) -> list[str]:
    """Escalation targets → user names to page at `at`: `user:X` is X, `schedule:S` whoever is on call.

    Duplicates are dropped, order kept; a schedule with nobody on call contributes nobody.
    """
    out: list[str] = []
    for target in targets:
        kind, name = split_target(target)
        user = name if kind == "user" else on_call(session, config, name, at)
        if user is not None and user not in out:
            out.append(user)
    return out


# --- gaps ------------------------------------------------------------------------------------------


def upcoming_gaps(
    session: Session, config: OpsbookConfig, now: datetime, days: int = 14, schedule: str | None = None
) -> list[gaps_mod.Gap]:
    """Stretches of the next `days` days when nobody is on call, per schedule, in time order."""
    end = now + timedelta(days=days)
    names = [schedule] if schedule is not None else [s.name for s in config.schedules]
    found = [
        gap
        for name in names
        for gap in gaps_mod.gaps(get_schedule(config, name), now, end, overrides_for(session, name, now, end))
    ]
    return sorted(found, key=lambda g: (g.start, g.schedule))


# --- handoff notes ---------------------------------------------------------------------------------


def handoff_notes(
    session: Session,
    schedule: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
) -> list[HandoffNoteRow]:
    """Notes (of one schedule) written in [since, until), newest first."""
    query = select(HandoffNoteRow).order_by(HandoffNoteRow.created_at.desc(), HandoffNoteRow.id.desc())
    if schedule is not None:
        query = query.where(HandoffNoteRow.schedule == schedule)
    if since is not None:
        query = query.where(HandoffNoteRow.created_at >= since)
    if until is not None:
        query = query.where(HandoffNoteRow.created_at < until)
    return list(session.scalars(query.limit(limit)))


@dataclass(frozen=True)
class Note:
    id: int
    schedule: str
    author: str
    text: str
    created_at: datetime


@dataclass(frozen=True)
class HandoffBrief:
    """What the incoming person is told at the start of a shift: the shift, who handed over, the notes."""

    schedule: str
    timezone: str
    user: str
    shift: Shift
    previous: Shift | None
    next: Shift | None
    notes: list[Note] = field(default_factory=list)


def notes_for_shift(
    session: Session, schedule: str, shift: Shift, previous: Shift | None, until: datetime
) -> list[Note]:
    """Notes written for the handoff that started `shift`, oldest first.

    Those are the notes written since the previous shift began (a week before, if nobody was on call)
    and before `shift` began, plus notes written up to an hour after it began by someone else than the
    incoming person (a late note from the outgoing one).
    """
    since = previous.start if previous is not None else shift.start - timedelta(days=7)
    late_until = min(until, shift.start + NOTE_GRACE)
    rows = handoff_notes(session, schedule, since=since, until=max(late_until, shift.start), limit=1000)
    out = [
        Note(r.id, r.schedule, r.author, r.note, r.created_at)
        for r in rows
        if r.created_at < shift.start or r.author != shift.user
    ]
    return sorted(out, key=lambda n: (n.created_at, n.id))


def pending_handoff(
    session: Session, config: OpsbookConfig, schedule: str, user: str, now: datetime
) -> HandoffBrief | None:
    """If `user` is on call on `schedule` at `now`: their shift, the previous and next ones, and the notes
    left for them. None if they are not on call. The notifier calls this at the start of a shift."""
    found = schedule_shifts(session, config, schedule, now - HORIZON, now + HORIZON)
    current = next((s for s in found if s.contains(now)), None)
    if current is None or current.user != user:
        return None
    previous = next((s for s in reversed(found) if s.end <= current.start), None)
    upcoming = next((s for s in found if s.start >= current.end), None)
    notes = notes_for_shift(session, schedule, current, previous, now)
    return HandoffBrief(schedule, get_schedule(config, schedule).timezone, user, current, previous, upcoming,
                        notes)

