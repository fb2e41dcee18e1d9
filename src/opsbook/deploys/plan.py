"""What a deploy of one service to one environment would do, and why it may not: read before anything
runs (`plan_deploy`), and read again inside the transaction that starts it (`refusals`).

A deploy is refused while the service is frozen: an open incident of a freezing severity
(`deploys.freeze_severities`, P0 and P1) on it, a declared freeze window (`deploys.freezes`) or a freeze
set by hand (`opsbook deploy freeze`), or this version not passed in the environment before (staging
before production). `--force --reason` overrides these; nothing overrides another deploy holding the
service and environment.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbook.config.schema import OpsbookConfig, Service
from opsbook.deploys import queries
from opsbook.deploys.config import Environment, ServiceDeploy
from opsbook.deploys.models import DeployRow
from opsbook.errors import Conflict, Invalid
from opsbook.incidents.models import RESOLVED, IncidentRow
from opsbook.runtime import Runtime
from opsbook.silences.windows import occurrence_at
from opsbook.timefmt import show_time

HOST = socket.gethostname()[:200]


class DeployRefused(Conflict):
    """The deploy may not run now (frozen, not passed before, held by another deploy): exit code 5."""

    exit_code = 5


@dataclass(frozen=True)
class Plan:
    """One deploy, as the configuration and the records say it would go."""

    service: str
    env: str
    version: str
    previous_version: str | None  # running now, by the records
    known_good: str | None  # what a rollback would go back to
    spec: ServiceDeploy
    checks: tuple[str, ...]  # check ids watched during verification
    pre_checklist: tuple[str, ...]
    post_checklist: tuple[str, ...]
    before: str | None  # the environment this version must have passed first


def service_of(config: OpsbookConfig, name: str) -> tuple[Service, ServiceDeploy]:
    found = next((s for s in config.services if s.name == name), None)
    if found is None:
        raise Invalid(f"no service {name!r} in the configuration")
    if found.deploy is None:
        raise Invalid(f"service {name!r} has no deploy: section in opsbook.yaml (command, rollback_command)")
    return found, found.deploy


def environment_of(spec: ServiceDeploy, service: str, env: str | None) -> Environment:
    chosen = spec.environment(env)
    if chosen is None:
        names = ", ".join(e.name for e in spec.environments)
        raise Invalid(f"{service} has no environment {env!r}; its environments are {names}")
    return chosen


def watched_checks(service: Service, spec: ServiceDeploy, environment: Environment) -> tuple[str, ...]:
    """The check ids verification watches: the environment's, else verification.checks, else every
    scheduled check of the service."""
    names = environment.checks or spec.verification.checks
    by_name = {c.name: c for c in service.checks}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise Invalid(f"{service.name} has no check {', '.join(unknown)} (deploy verification)")
    if not names:
        names = [c.name for c in service.checks if c.enabled and not c.push]
    return tuple(f"{service.name}/{n}" for n in names)


def checklist(runtime: Runtime, items: list[str] | str) -> tuple[str, ...]:
    """A checklist as listed, or the confirm steps of the runbook procedure it names."""
    if isinstance(items, list):
        return tuple(items)
    from opsbook.runbooks.service import find_procedure

    try:
        found = find_procedure(runtime, items)
    except LookupError as exc:
        raise Invalid(f"checklist: {exc}") from None
    return tuple(step.title for step in found.procedure.steps if step.kind == "confirm")


def plan_deploy(runtime: Runtime, session: Session, service: str, version: str, env: str | None) -> Plan:
    """The plan of deploying `version` of `service` to `env` (default: the last environment)."""
    version = version.strip()
    if not version or len(version) > 200:
        raise Invalid("give the version to deploy (at most 200 characters)")
    svc, spec = service_of(runtime.config, service)
    environment = environment_of(spec, service, env)
    current = queries.current_version(session, service, environment.name)
    return Plan(
        service=service,
        env=environment.name,
        version=version,
        previous_version=current,
        known_good=queries.known_good(session, service, environment.name, version),
        spec=spec,
        checks=watched_checks(svc, spec, environment),
        pre_checklist=checklist(runtime, spec.pre_checklist),
        post_checklist=checklist(runtime, spec.post_checklist),
        before=spec.before(environment.name),
    )


def _when(t: datetime, timezone: str) -> str:
    return show_time(t, timezone)


def refusals(session: Session, config: OpsbookConfig, plan: Plan, now: datetime) -> list[str]:
    """Why the deploy may not run now (empty: it may); `--force --reason` overrides every one."""
    out: list[str] = []
    freezing = [s.value for s in config.deploys.freeze_severities]
    incidents = session.scalars(
        select(IncidentRow).where(IncidentRow.status != RESOLVED, IncidentRow.severity.in_(freezing))
    )
    for incident in incidents:
        if plan.service in (incident.services or [incident.service or ""]):
            out.append(
                f"{plan.service} is frozen: incident #{incident.id} ({incident.severity}, "
                f"{incident.status}) is open: {incident.title}"
            )
    for freeze in config.deploys.freezes:
        if freeze.services and plan.service not in freeze.services:
            continue
        occurrence = occurrence_at(freeze.window(), now)
        if occurrence is not None:
            out.append(
                f"{plan.service} is frozen until {_when(occurrence.end, config.timezone)} by the freeze "
                f"window {freeze.name}" + (f": {freeze.reason}" if freeze.reason else "")
            )
    for row in queries.active_freezes(session, plan.service, now):
        out.append(
            f"{plan.service} is frozen until {_when(row.ends_at, config.timezone)} by {row.created_by}: "
            f"{row.reason}"
        )
    if plan.before is not None and queries.passed(session, plan.service, plan.before, plan.version) is None:
        out.append(
            f"{plan.service} {plan.version} has not passed verification in {plan.before} "
            f"(deploy it there first: opsbook deploy {plan.service} {plan.version} --env {plan.before})"
        )
    return out


def held_by(session: Session, service: str, env: str, timezone: str) -> str | None:
    """Who holds the service and environment, in words; None if nobody does."""
    lock = queries.lock_of(session, service, env)
    if lock is None:
        return None
    row = session.get(DeployRow, lock.deploy_id)
    what = f"deploy #{lock.deploy_id}" + (f" of {row.version}" if row is not None else "")
    return (
        f"{service} {env} is being deployed by {lock.holder} ({what}, since "
        f"{_when(lock.acquired_at, timezone)}): wait for it to end"
    )
