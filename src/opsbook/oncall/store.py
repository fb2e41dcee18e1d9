"""What on-call changes refer to and write: the config's schedules and users by name, overrides and
handoff notes as rows.

The changes here validate their input and write the row in the caller's session; they record nothing
else. People change on-call through the use cases of `opsbook.oncall.service`, which add the audit row
and the domain event. A schedule, user or override that does not exist is `NotFound` (404, exit 1);
naming one in a change is bad input, `OncallError` (Invalid: 400, exit 2), like an empty note.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy.orm import Session

from opsbook import errors
from opsbook.auth.roles import Principal
from opsbook.config.schema import OpsbookConfig
from opsbook.oncall.config import Schedule, User
from opsbook.oncall.models import HandoffNoteRow, OverrideRow


class OncallError(errors.Invalid):
    """A change that cannot be done (unknown schedule or user, empty note, end before start…)."""


class NotFound(errors.NotFound):
    """No schedule, user or override by that name or id."""


def get_schedule(config: OpsbookConfig, name: str) -> Schedule:
    for schedule in config.schedules:
        if schedule.name == name:
            return schedule
    known = ", ".join(s.name for s in config.schedules) or "none configured"
    raise NotFound(f"no schedule {name!r} (schedules: {known})")


def schedule_zone(config: OpsbookConfig, name: str) -> str:
    """The time zone of schedule `name`; the team's for a schedule the config does not have (any more)."""
    return next((s.timezone for s in config.schedules if s.name == name), config.timezone)


def get_user(config: OpsbookConfig, name: str) -> User:
    for user in config.users:
        if user.name == name:
            return user
    raise NotFound(f"no user {name!r} in the config's users")


def users_by_name(config: OpsbookConfig) -> dict[str, User]:
    return {u.name: u for u in config.users}


@contextmanager
def _named_in_a_change() -> Iterator[None]:
    """A missing schedule or user named in a change is bad input, not a missing page."""
    try:
        yield
    except NotFound as exc:
        raise OncallError(str(exc)) from None


def _aware(t: datetime, what: str) -> None:
    if t.tzinfo is None:
        raise OncallError(f"{what} needs a time zone")


def add_override(
    session: Session,
    config: OpsbookConfig,
    now: datetime,
    actor: Principal,
    schedule: str,
    user: str,
    start: datetime,
    end: datetime,
    covers: str | None = None,
    reason: str = "",
) -> OverrideRow:
    """Put `user` on call on `schedule` over [start, end), over every layer."""
    with _named_in_a_change():
        get_schedule(config, schedule)
        get_user(config, user)
        if covers is not None:
            get_user(config, covers)
    _aware(start, "start")
    _aware(end, "end")
    if end <= start:
        raise OncallError("an override must end after it starts")
    row = OverrideRow(schedule=schedule, user=user, covers=covers, start=start, end=end, reason=reason,
                      created_at=now, created_by=actor.name)
    session.add(row)
    session.flush()
    return row


def remove_override(session: Session, override_id: int) -> OverrideRow:
    """Delete an override; returns it (detached) to say what it was."""
    row = session.get(OverrideRow, override_id)
    if row is None:
        raise NotFound(f"no override {override_id}")
    session.delete(row)
    return row


def add_handoff_note(
    session: Session, config: OpsbookConfig, now: datetime, actor: Principal, schedule: str, note: str
) -> HandoffNoteRow:
    """Keep a note for whoever takes over `schedule` next."""
    with _named_in_a_change():
        get_schedule(config, schedule)
    text = note.strip()
    if not text:
        raise OncallError("a handoff note cannot be empty")
    row = HandoffNoteRow(schedule=schedule, author=actor.name, note=text, created_at=now)
    session.add(row)
    session.flush()
    return row
