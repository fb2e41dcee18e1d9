"""What customers are told about an incident: publishing it on the status page, its public title, and the
updates written for them.

An incident shows on the status page when it touches a public service. Until a responder publishes it,
the page shows it under a generic title ("Major outage: api") with the generic sentence of each status
change, and no text a responder typed. Publishing it (`customer_facing`) shows its public title
(`public_title`, else its title) and the public updates (`PublicUpdateRow`), each with the public status
it announces (investigating, identified, monitoring, resolved); the text of an update may be corrected
later. Notes and status messages stay internal: only text posted as a public update reaches customers.

Like lifecycle.py, each function changes one incident (locked first) in the caller's session and returns
the `Change`s to record (audit row and `Topic.INCIDENTS` event, which rebuilds the status page); the use
cases are in service.py. Nothing here commits.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from opsbook.auth.roles import Principal
from opsbook.errors import Conflict, Invalid, NotFound
from opsbook.incidents.models import (
    IDENTIFIED,
    INVESTIGATING,
    MONITORING,
    RESOLVED,
    IncidentRow,
    PublicUpdateRow,
)
from opsbook.incidents.records import Change, add_entry, lock

PUBLIC_STATUSES = (INVESTIGATING, IDENTIFIED, MONITORING, RESOLVED)
MAX_TITLE = 500
MAX_TEXT = 5000


def public_status(incident_status: str) -> str:
    """The public status an incident's own status announces (triggered and acknowledged: investigating)."""
    return incident_status if incident_status in PUBLIC_STATUSES else INVESTIGATING


def _status(value: str | None, row: IncidentRow) -> str:
    if value is None or not value.strip():
        return public_status(row.status)
    status = value.strip().lower()
    if status not in PUBLIC_STATUSES:
        raise Invalid(f"{value!r} is not a public status; use one of {', '.join(PUBLIC_STATUSES)}")
    return status


def _text(value: str) -> str:
    text = value.replace("\x00", "").strip()  # PostgreSQL text holds no NUL
    if not text:
        raise Invalid("a public update needs a text")
    if len(text) > MAX_TEXT:
        raise Invalid(f"a public update is at most {MAX_TEXT} characters ({len(text)} given)")
    return text


def shown_title(row: IncidentRow) -> str:
    return row.public_title or row.title


def publish(session: Session, incident_id: int, now: datetime, actor: Principal,
            title: str | None = None) -> list[Change]:
    """Show the incident on the status page with its public title (`title`, if given, becomes it)."""
    row = lock(session, incident_id)
    changes: list[Change] = []
    if title is not None:
        title = " ".join(title.replace("\x00", "").split())
        if not title:
            raise Invalid("a public title cannot be empty")
        if len(title) > MAX_TITLE:
            raise Invalid(f"a public title is at most {MAX_TITLE} characters")
    if not row.customer_facing:
        row.customer_facing = True
        row.public_title = title or row.public_title
        shown = shown_title(row)
        entry = add_entry(session, row, now, "published", f"Published on the status page as “{shown}”",
                          actor.name, public_title=shown)
        changes.append(Change(entry, "incident.publish", {"public_title": shown}))
    elif title is not None and title != shown_title(row):
        before = shown_title(row)
        row.public_title = title
        entry = add_entry(session, row, now, "public_title", f"Public title: “{before}” → “{title}”",
                          actor.name, before=before, after=title)
        changes.append(Change(entry, "incident.public_title", {"before": before, "after": title}))
    if changes:
        row.updated_at = now
    return changes


def unpublish(session: Session, incident_id: int, now: datetime, actor: Principal) -> list[Change]:
    """Take the incident's title and updates off the status page (it shows generically again)."""
    row = lock(session, incident_id)
    if not row.customer_facing:
        return []
    row.customer_facing = False
    row.updated_at = now
    entry = add_entry(session, row, now, "unpublished",
                      "Taken off the status page: its title and public updates are hidden again", actor.name)
    return [Change(entry, "incident.unpublish")]


def post(session: Session, incident_id: int, text: str, now: datetime, actor: Principal,
         status: str | None = None) -> tuple[PublicUpdateRow, list[Change]]:
    """Post an update for customers on a published incident; its status defaults to the incident's."""
    row = lock(session, incident_id)
    if not row.customer_facing:
        raise Conflict(f"incident {row.id} is not published on the status page; publish it first: "
                       f'opsbook incident publish {row.id} --title "…"')
    body = _text(text)
    announced = _status(status, row)
    number = (session.scalar(select(func.max(PublicUpdateRow.number))
                             .where(PublicUpdateRow.incident_id == row.id)) or 0) + 1
    update = PublicUpdateRow(incident_id=row.id, number=number, ts=now, status=announced, text=body,
                             author=actor.name)
    session.add(update)
    row.updated_at = now
    entry = add_entry(session, row, now, "public_update", f"Public update {number} ({announced}): {body}",
                      actor.name, number=number, status=announced)
    return update, [Change(entry, "incident.public_update", {"number": number, "status": announced})]


def edit(session: Session, incident_id: int, number: int, text: str, now: datetime, actor: Principal,
         status: str | None = None) -> tuple[PublicUpdateRow, list[Change]]:
    """Correct the text (and, if given, the status) of public update `number` (counted from 1)."""
    row = lock(session, incident_id)
    update = session.scalars(select(PublicUpdateRow).where(PublicUpdateRow.incident_id == row.id,
                                                           PublicUpdateRow.number == number)).first()
    if update is None:
        raise NotFound(f"incident {row.id} has no public update {number}")
    body = _text(text)
    announced = update.status if status is None or not status.strip() else _status(status, row)
    if body == update.text and announced == update.status:
        return update, []
    update.text, update.status = body, announced
    update.edited_at, update.edited_by = now, actor.name
    row.updated_at = now
    entry = add_entry(session, row, now, "public_update_edited",
                      f"Public update {number} corrected ({announced}): {body}", actor.name, number=number,
                      status=announced)
    return update, [Change(entry, "incident.public_update_edit", {"number": number, "status": announced})]


def updates_of(session: Session, incident_id: int) -> list[PublicUpdateRow]:
    """The incident's public updates, oldest first."""
    return list(session.scalars(select(PublicUpdateRow).where(PublicUpdateRow.incident_id == incident_id)
                                .order_by(PublicUpdateRow.number)))
