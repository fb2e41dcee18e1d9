"""The deploy use cases: start a deploy or a rollback, note its progress, finish it (record, operations
log entry, incident), record a change made elsewhere, freeze and unfreeze a service, and mark deploys
that died with their process as interrupted.

Each owns its transaction (`opsbook.usecase.transaction`), its audit row and its `Topic.DEPLOYS` event.
The walk (`deploys.walk`) calls them in order; the API, the web UI and the CLI call them too. Errors are
opsbook.errors: `DeployRefused` (a Conflict, exit code 5) when the service is frozen or held.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psutil
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from opsbook.auth.roles import SYSTEM, Principal, Role
from opsbook.deploys import queries
from opsbook.deploys.models import (
    CHANGE,
    DEPLOY,
    INTERRUPTED,
    ROLLBACK,
    RUNNING,
    STATUSES,
    DeployLockRow,
    DeployRow,
    FreezeRow,
)
from opsbook.deploys.plan import HOST, DeployRefused, Plan, held_by, refusals
from opsbook.errors import Invalid, NotFound
from opsbook.events import DomainEvent, Topic
from opsbook.oplog.service import add_entry
from opsbook.rules.severity import Severity
from opsbook.runtime import Runtime
from opsbook.usecase import Tx, transaction

STALE = timedelta(minutes=2)
"""A running deploy of another host whose walk has not been heard of for this long died (one of this
host died when its process is gone)."""
HEARTBEAT = timedelta(seconds=15)
"""How often a walk says it is alive, at least."""


@dataclass(frozen=True)
class Answer:
    """One checklist item and how it was answered."""

    item: str
    done: bool
    phase: str  # pre | post
    by: str
    how: str = "asked"  # asked | --confirm

    def as_dict(self, at: datetime) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "item": self.item,
            "done": self.done,
            "by": self.by,
            "how": self.how,
            "at": at.isoformat(),
        }


def _subject(deploy_id: int) -> str:
    return f"deploy:{deploy_id}"


# --- interrupted deploys --------------------------------------------------------------------------


def _dead(row: DeployRow, now: datetime) -> bool:
    """A walk on this host is dead when its process is gone; one elsewhere when it went quiet for STALE."""
    if row.host == HOST and row.pid is not None:
        if row.pid == os.getpid():
            return False
        try:  # a process started after the deploy only reuses the walk's process id
            return psutil.Process(row.pid).create_time() > row.started_at.timestamp() + 1
        except psutil.NoSuchProcess:
            return True
    last = row.heartbeat_at or row.started_at
    return now - last > STALE


def _log(tx: Tx, row: DeployRow, **fields: Any) -> None:
    """The deploy's operations-log entry: when it started, what, who, why, and `fields` (impact...)."""
    add_entry(
        tx.session,
        now=tx.now,
        ts=row.started_at,
        operation=_operation(row),
        operator=row.actor,
        reason=row.force_reason or row.summary,
        source="deploy",
        **fields,
    )


def _release(tx: Tx, row: DeployRow) -> None:
    """The service and environment are free again (if this deploy held them)."""
    lock = queries.lock_of(tx.session, row.service, row.env)
    if lock is not None and lock.deploy_id == row.id:
        tx.session.delete(lock)


def _interrupt(tx: Tx, row: DeployRow) -> None:
    row.status = INTERRUPTED
    row.ended_at = tx.now
    row.verdict = {
        **(row.verdict or {}),
        "interrupted": "opsbook stopped during the deploy; it is not re-run",
    }
    _release(tx, row)
    _log(tx, row, issues="interrupted: opsbook stopped during the deploy; check the service and deploy again")
    tx.emit(DomainEvent(Topic.DEPLOYS, "interrupted", _subject(row.id)))


def mark_interrupted(runtime: Runtime) -> list[int]:
    """Deploys left running by a process that is gone: marked interrupted (never re-run by themselves)."""
    with transaction(runtime, SYSTEM) as tx:
        rows = tx.session.scalars(select(DeployRow).where(DeployRow.status == RUNNING).with_for_update())
        dead = [row for row in rows if _dead(row, tx.now)]
        for row in dead:
            _interrupt(tx, row)
        return [row.id for row in dead]


# --- starting -------------------------------------------------------------------------------------


def _take_lock(tx: Tx, row: DeployRow, timezone: str) -> None:
    holder = held_by(tx.session, row.service, row.env, timezone)
    if holder is not None:
        raise DeployRefused(holder)
    tx.session.add(
        DeployLockRow(
            service=row.service, env=row.env, deploy_id=row.id, holder=row.actor, acquired_at=tx.now
        )
    )
    try:
        with tx.session.begin_nested():
            tx.session.flush()
    except IntegrityError:
        raise DeployRefused(
            f"{row.service} {row.env} was just taken by another deploy: wait for it to end"
        ) from None


def begin(
    runtime: Runtime,
    actor: Principal,
    plan: Plan,
    *,
    kind: str = DEPLOY,
    force: bool = False,
    reason: str = "",
    answers: Sequence[Answer] = (),
    commit: str | None = None,
    committed_at: datetime | None = None,
) -> DeployRow:
    """Start a deploy (or a rollback) of the plan: refused while frozen unless forced with a reason, and
    always while another deploy holds the service and environment. Records the pre-deploy checklist."""
    if force and not reason.strip():
        raise Invalid("--force needs --reason: say why the freeze does not apply")
    mark_interrupted(runtime)
    with transaction(runtime, actor, needs=Role.RESPONDER) as tx:
        reasons = refusals(tx.session, runtime.config, plan, tx.now) if kind == DEPLOY else []
        if reasons and not force:
            raise DeployRefused("; ".join(reasons) + " (override with --force --reason TEXT)")
        undone = [a.item for a in answers if not a.done]
        if undone:
            raise DeployRefused(f"the pre-deploy checklist is not done: {'; '.join(undone)}")
        row = DeployRow(
            service=plan.service,
            env=plan.env,
            version=plan.version,
            previous_version=plan.previous_version,
            kind=kind,
            status=RUNNING,
            source=actor.source or "cli",
            actor=actor.name,
            forced=bool(reasons),
            force_reason=reason.strip(),
            commit=commit,
            committed_at=committed_at,
            summary="",
            started_at=tx.now,
            heartbeat_at=tx.now,
            pid=os.getpid(),
            host=HOST,
            checklist=[a.as_dict(tx.now) for a in answers],
            output="",
            verdict={},
            detail={"checks": list(plan.checks), "overridden": reasons},
        )
        tx.session.add(row)
        tx.session.flush()
        _take_lock(tx, row, runtime.config.timezone)
        tx.audit(
            f"deploy.{'start' if kind == DEPLOY else 'rollback'}",
            _subject(row.id),
            service=row.service,
            env=row.env,
            version=row.version,
            previous_version=row.previous_version,
            forced=row.forced,
            reason=row.force_reason,
            overridden=reasons,
        )
        tx.emit(DomainEvent(Topic.DEPLOYS, "started", _subject(row.id)))
        return row


def note(runtime: Runtime, deploy_id: int, output: str = "", **verdict: Any) -> None:
    """The walk is alive: append output (secrets masked) and figures so far to the record."""
    with transaction(runtime, SYSTEM) as tx:
        row = queries.get_deploy(tx.session, deploy_id)
        row.heartbeat_at = tx.now
        if output:
            row.output = (row.output or "") + runtime.redact(output)
        if verdict:
            row.verdict = {**(row.verdict or {}), **verdict}


# --- finishing ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ending:
    """How a walk ended, for `finish`."""

    status: str
    verdict: dict[str, Any]
    summary: str = ""
    rollback_version: str | None = None
    regression_at: datetime | None = None
    restored_at: datetime | None = None
    answers: tuple[Answer, ...] = ()
    incident: tuple[Severity, str] | None = None  # open one: severity, title


def _operation(row: DeployRow) -> str:
    if row.kind == ROLLBACK:
        return f"Roll back {row.service} in {row.env} from {row.previous_version or '?'} to {row.version}"
    return f"Deploy {row.service} {row.version} to {row.env}"


def _open_incident(tx: Tx, runtime: Runtime, row: DeployRow, severity: Severity, title: str) -> int:
    from opsbook.incidents import lifecycle

    tail = "\n".join((row.output or "").splitlines()[-20:])
    summary = "\n".join(
        [
            f"Deploy #{row.id}: {queries.describe(row)}.",
            *row.verdict.get("reasons", []),
            "",
            "Output (last lines):",
            tail,
        ]
    )
    incident = lifecycle.open_incident(
        tx.session,
        runtime.config,
        tx.now,
        title=title,
        severity=severity,
        service=row.service,
        summary=summary,
        source="deploy",
        actor=SYSTEM,
        detected_at=row.regression_at,
    )
    tx.emit(DomainEvent(Topic.INCIDENTS, "opened", f"incident:{incident.id}"))
    return incident.id


def finish(runtime: Runtime, actor: Principal, deploy_id: int, ending: Ending) -> DeployRow:
    """End a deploy: its status, verdict, rollback times and post-deploy checklist; its operations log
    entry; an incident if the ending asks for one; the service and environment released."""
    if ending.status not in STATUSES or ending.status == RUNNING:
        raise Invalid(f"a deploy ends as one of {', '.join(s for s in STATUSES if s != RUNNING)}")
    with transaction(runtime, actor, needs=Role.RESPONDER) as tx:
        row = queries.get_deploy(tx.session, deploy_id)
        row.status, row.ended_at, row.heartbeat_at = ending.status, tx.now, tx.now
        row.verdict = {**(row.verdict or {}), **ending.verdict}
        row.summary = ending.summary or row.summary
        row.rollback_version = ending.rollback_version
        row.regression_at, row.restored_at = ending.regression_at, ending.restored_at
        if ending.regression_at is not None and ending.restored_at is not None:
            row.restore_seconds = (ending.restored_at - ending.regression_at).total_seconds()
        row.checklist = [*row.checklist, *(a.as_dict(tx.now) for a in ending.answers)]
        if ending.incident is not None:
            row.incident_id = _open_incident(tx, runtime, row, *ending.incident)
        _release(tx, row)
        restore = (
            f"; health restored {row.restore_seconds:.0f}s after the regression"
            if row.restore_seconds
            else ""
        )
        _log(
            tx,
            row,
            impact=f"{row.status.replace('_', ' ')}{restore}",
            duration_s=(tx.now - row.started_at).total_seconds(),
            issues="; ".join(row.verdict.get("reasons", [])),
            follow_up=f"incident #{row.incident_id}" if row.incident_id else "",
            incident_id=row.incident_id,
        )
        tx.audit(
            "deploy.finish",
            _subject(row.id),
            status=row.status,
            version=row.version,
            rollback_version=row.rollback_version,
            restore_seconds=row.restore_seconds,
            incident=row.incident_id,
        )
        tx.emit(DomainEvent(Topic.DEPLOYS, row.status, _subject(row.id)))
        return row


# --- changes made elsewhere -----------------------------------------------------------------------


@dataclass(frozen=True)
class ChangeIn:
    """A deploy or change another system made, as it reports it."""

    service: str
    version: str = ""
    env: str = ""
    status: str = "succeeded"
    started_at: datetime | None = None
    ended_at: datetime | None = None
    commit: str | None = None
    committed_at: datetime | None = None
    summary: str = ""
    previous_version: str | None = None
    detail: dict[str, Any] | None = None


def _environment(runtime: Runtime, service: str, env: str) -> str:
    spec = next((s.deploy for s in runtime.config.services if s.name == service), None)
    if env:
        return env
    return spec.environments[-1].name if spec is not None else "production"


def record_change(runtime: Runtime, actor: Principal, change: ChangeIn, *, source: str = "api") -> DeployRow:
    """Record a deploy or change made elsewhere (CI, `POST /api/v1/deploys`, a PagerDuty change event)."""
    if change.service not in {s.name for s in runtime.config.services}:
        raise Invalid(f"no service {change.service!r} in the configuration")
    if change.status not in STATUSES or change.status in (RUNNING, INTERRUPTED):
        raise Invalid(f"status: one of succeeded, failed, rolled_back (not {change.status!r})")
    if not (change.version.strip() or change.summary.strip()):
        raise Invalid("give the version deployed or a summary of the change")
    with transaction(runtime, actor, needs=Role.RESPONDER) as tx:
        env = _environment(runtime, change.service, change.env)
        started = change.started_at or tx.now
        row = DeployRow(
            service=change.service,
            env=env,
            version=change.version.strip()[:200],
            previous_version=change.previous_version
            or queries.current_version(tx.session, change.service, env),
            kind=CHANGE,
            status=change.status,
            source=source,
            actor=actor.name,
            forced=False,
            force_reason="",
            commit=change.commit,
            committed_at=change.committed_at,
            summary=runtime.redact(change.summary)[:4000],
            started_at=started,
            ended_at=change.ended_at or started,
            checklist=[],
            output="",
            verdict={},
            detail=change.detail or {},
        )
        tx.session.add(row)
        tx.session.flush()
        _log(tx, row, impact=row.status.replace("_", " "))
        tx.audit(
            "deploy.record",
            _subject(row.id),
            service=row.service,
            env=env,
            version=row.version,
            status=row.status,
            source=source,
        )
        tx.emit(DomainEvent(Topic.DEPLOYS, "recorded", _subject(row.id)))
        return row


# --- freezes --------------------------------------------------------------------------------------


def freeze(runtime: Runtime, actor: Principal, service: str, *, until: datetime, reason: str) -> FreezeRow:
    """Refuse deploys of `service` until `until` (a deploy may still be forced with a reason)."""
    if service not in {s.name for s in runtime.config.services}:
        raise Invalid(f"no service {service!r} in the configuration")
    if not reason.strip():
        raise Invalid("say why: --reason TEXT")
    with transaction(runtime, actor, needs=Role.RESPONDER) as tx:
        if until <= tx.now:
            raise Invalid("--until must be in the future")
        row = FreezeRow(
            service=service,
            starts_at=tx.now,
            ends_at=until,
            reason=reason.strip(),
            created_by=actor.name,
            created_at=tx.now,
        )
        tx.session.add(row)
        tx.session.flush()
        tx.audit(
            "deploy.freeze", f"freeze:{row.id}", service=service, until=until.isoformat(), reason=row.reason
        )
        tx.emit(DomainEvent(Topic.DEPLOYS, "frozen", f"freeze:{row.id}"))
        return row


def unfreeze(runtime: Runtime, actor: Principal, service: str) -> list[FreezeRow]:
    """Lift every freeze of `service` set by hand (declared freeze windows stay)."""
    with transaction(runtime, actor, needs=Role.RESPONDER) as tx:
        rows = queries.active_freezes(tx.session, service, tx.now)
        if not rows:
            raise NotFound(f"no freeze set by hand on {service} now")
        for row in rows:
            row.lifted_at, row.lifted_by = tx.now, actor.name
            tx.audit("deploy.unfreeze", f"freeze:{row.id}", service=service)
        tx.emit(DomainEvent(Topic.DEPLOYS, "unfrozen", f"service:{service}"))
        return rows


def plan_for(
    runtime: Runtime, service: str, version: str, env: str | None
) -> tuple[Plan, list[str], str | None]:
    """The plan, why it would be refused now, and who holds the service and environment (reads only)."""
    from opsbook.deploys.plan import plan_deploy

    with runtime.sessions() as session:
        plan = plan_deploy(runtime, session, service, version, env)
        now = runtime.clock.now()
        return (
            plan,
            refusals(session, runtime.config, plan, now),
            held_by(session, plan.service, plan.env, runtime.config.timezone),
        )


def last_deploy(session: Session, service: str, env: str) -> DeployRow | None:
    rows = queries.list_deploys(session, service=service, env=env, limit=1)
    return rows[0] if rows else None
