"""Reading deploys: one or a list, what runs now in an environment, the last version that passed, what
holds or freezes a service, and deploys near a time (incident timelines, post-mortems, chart markers,
pages). Plain functions over a session; no clock of their own."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbook.deploys.models import (
    CHANGE,
    ROLLBACK,
    ROLLED_BACK,
    SUCCEEDED,
    DeployLockRow,
    DeployRow,
    FreezeRow,
)
from opsbook.errors import NotFound
from opsbook.runbooks.commands import opsbook_command

if TYPE_CHECKING:
    from opsbook.config.schema import ServerSettings

RECENT = timedelta(hours=1)
"""A deploy this recent is named in pages about its service and in the timeline of its incidents."""


def get_deploy(session: Session, deploy_id: int) -> DeployRow:
    row = session.get(DeployRow, deploy_id)
    if row is None:
        raise NotFound(f"no deploy {deploy_id}")
    return row


def list_deploys(
    session: Session,
    *,
    service: str | None = None,
    env: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
) -> list[DeployRow]:
    """Newest first: deploys, rollbacks and recorded changes."""
    query = select(DeployRow)
    if service:
        query = query.where(DeployRow.service == service)
    if env:
        query = query.where(DeployRow.env == env)
    if status:
        query = query.where(DeployRow.status == status)
    if since is not None:
        query = query.where(DeployRow.started_at >= since)
    if until is not None:
        query = query.where(DeployRow.started_at < until)
    return list(
        session.scalars(query.order_by(DeployRow.started_at.desc(), DeployRow.id.desc()).limit(limit))
    )


def deployed_version(row: DeployRow) -> str:
    """The version a record left running: the one rolled back to, else its own."""
    return row.rollback_version if row.status == ROLLED_BACK and row.rollback_version else row.version


def current_version(session: Session, service: str, env: str) -> str | None:
    """The version running in `env` by the records (None: nothing recorded yet)."""
    query = (
        select(DeployRow)
        .where(DeployRow.service == service, DeployRow.env == env, DeployRow.status != "interrupted")
        .order_by(DeployRow.started_at.desc(), DeployRow.id.desc())
        .limit(1)
    )
    row = session.scalars(query).first()
    return deployed_version(row) if row is not None else None


def known_good(session: Session, service: str, env: str, other_than: str | None) -> str | None:
    """The last version that passed in `env` (a deploy or rollback that succeeded, a change recorded as
    succeeded), other than `other_than`; None if there is none."""
    query = (
        select(DeployRow)
        .where(DeployRow.service == service, DeployRow.env == env, DeployRow.status == SUCCEEDED)
        .order_by(DeployRow.started_at.desc(), DeployRow.id.desc())
    )
    for row in session.scalars(query.limit(200)):
        if row.version != other_than:
            return row.version
    return None


def passed(session: Session, service: str, env: str, version: str) -> DeployRow | None:
    """The latest record of `version` succeeding in `env`, if any."""
    query = (
        select(DeployRow)
        .where(
            DeployRow.service == service,
            DeployRow.env == env,
            DeployRow.version == version,
            DeployRow.status == SUCCEEDED,
        )
        .order_by(DeployRow.started_at.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def lock_of(session: Session, service: str, env: str) -> DeployLockRow | None:
    return session.get(DeployLockRow, (service, env))


def active_freezes(session: Session, service: str, now: datetime) -> list[FreezeRow]:
    query = select(FreezeRow).where(
        FreezeRow.service == service,
        FreezeRow.lifted_at.is_(None),
        FreezeRow.starts_at <= now,
        FreezeRow.ends_at > now,
    )
    return list(session.scalars(query.order_by(FreezeRow.ends_at)))


def list_freezes(session: Session, now: datetime) -> list[FreezeRow]:
    """Freezes declared by hand that have not ended."""
    query = select(FreezeRow).where(FreezeRow.lifted_at.is_(None), FreezeRow.ends_at > now)
    return list(session.scalars(query.order_by(FreezeRow.starts_at)))


def near(
    session: Session, services: Sequence[str], since: datetime, until: datetime | None, limit: int = 200
) -> list[DeployRow]:
    """Deploys of `services` started in [since, until), oldest first."""
    if not services:
        return []
    query = select(DeployRow).where(DeployRow.service.in_(list(services)), DeployRow.started_at >= since)
    if until is not None:
        query = query.where(DeployRow.started_at < until)
    return list(session.scalars(query.order_by(DeployRow.started_at, DeployRow.id).limit(limit)))


def latest_recent(session: Session, service: str, now: datetime) -> DeployRow | None:
    """The last deploy or change of `service` started within RECENT before `now`."""
    query = (
        select(DeployRow)
        .where(
            DeployRow.service == service,
            DeployRow.started_at >= now - RECENT,
            DeployRow.started_at <= now,
            DeployRow.kind != ROLLBACK,
        )
        .order_by(DeployRow.started_at.desc(), DeployRow.id.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def minutes(delta: timedelta) -> str:
    """'6 min', '1 h 5 min', 'under a minute'."""
    total = int(delta.total_seconds() // 60)
    if total < 1:
        return "under a minute"
    hours, mins = divmod(total, 60)
    return f"{hours} h {mins} min" if hours else f"{mins} min"


def describe(row: DeployRow) -> str:
    """'api 1.4.2 deployed by ana (production)', 'api rolled back from 2.0 to 1.9 by ana (production)'."""
    if row.kind == ROLLBACK:
        return f"{row.service} rolled back from {row.previous_version or '?'} to {row.version} by {row.actor}"
    verb = "changed" if row.kind == CHANGE and not row.version else "deployed"
    what = f"{row.service} {row.version}".strip()
    text = f"{what} {verb} by {row.actor} ({row.env}"
    if row.status == ROLLED_BACK:
        text += f", rolled back to {row.rollback_version}"
    elif row.status not in (SUCCEEDED, "running"):
        text += f", {row.status.replace('_', ' ')}"
    return text + ")"


def relative_to(row: DeployRow, at: datetime, what: str) -> str:
    """'api 1.4.2 deployed by ana (production) 6 min before this incident'."""
    delta = at - row.started_at
    when = (
        f"{minutes(delta)} before {what}"
        if delta >= timedelta(0)
        else f"{minutes(-delta)} after {what} began"
    )
    return f"{describe(row)} {when}"


def rollback_command(row: DeployRow, server: ServerSettings | None = None) -> str:
    """`opsbook deploy rollback SERVICE --env ENV`, as a responder runs opsbook (`server.cli`)."""
    return opsbook_command(server, "deploy", "rollback", row.service, "--env", row.env)


def recent_line(
    session: Session, service: str | None, now: datetime, server: ServerSettings | None = None
) -> str:
    """For a page or a firing message: the service's deploy in the last hour and how to roll it back; ""
    if there is none."""
    if not service:
        return ""
    row = latest_recent(session, service, now)
    if row is None:
        return ""
    return (
        f"{describe(row)} {minutes(now - row.started_at)} ago (deploy #{row.id}); "
        f"roll back: {rollback_command(row, server)}"
    )


def deploy_dict(row: DeployRow) -> dict[str, Any]:
    def iso(t: datetime | None) -> str | None:
        return t.isoformat() if t is not None else None

    return {
        "id": row.id,
        "service": row.service,
        "env": row.env,
        "version": row.version,
        "previous_version": row.previous_version,
        "kind": row.kind,
        "status": row.status,
        "source": row.source,
        "actor": row.actor,
        "forced": row.forced,
        "force_reason": row.force_reason,
        "commit": row.commit,
        "committed_at": iso(row.committed_at),
        "summary": row.summary,
        "started_at": iso(row.started_at),
        "ended_at": iso(row.ended_at),
        "checklist": list(row.checklist or []),
        "verdict": dict(row.verdict or {}),
        "rollback_version": row.rollback_version,
        "regression_at": iso(row.regression_at),
        "restored_at": iso(row.restored_at),
        "restore_seconds": row.restore_seconds,
        "incident_id": row.incident_id,
        "detail": dict(row.detail or {}),
    }


def marks(
    session: Session, services: Sequence[str], opened_at: datetime, until: datetime | None
) -> list[tuple[datetime, str, str, int]]:
    """Deploys of an incident's services from RECENT before it opened until it ended, for its timeline:
    (when, who, "api 1.4.2 deployed by ana (production) 6 min before this incident", deploy id)."""
    rows = near(session, services, opened_at - RECENT, until)
    return [(r.started_at, r.actor, f"{relative_to(r, opened_at, 'this incident')} (deploy #{r.id})", r.id)
            for r in rows]


def window_lines(
    session: Session, services: Sequence[str], opened_at: datetime, until: datetime | None, timezone: str
) -> list[str]:
    """The post-mortem's list of deploys in its window (from RECENT before the incident opened)."""
    from opsbook.timefmt import show_time

    return [f"- {show_time(ts, timezone)}: {text}" for ts, _who, text, _id in marks(session, services,
                                                                                   opened_at, until)]


def chart_markers(
    session: Session, service: str, start: datetime, end: datetime
) -> list[tuple[datetime, str, str]]:
    """Deploys of `service` in [start, end) as chart markers: (when, the version, what happened)."""
    return [(r.started_at, f"↩ {r.version}" if r.kind == ROLLBACK else r.version or "change", describe(r))
            for r in near(session, [service], start, end)]
