"""The secrets use cases, and each secret's state for the CLI, the API, the UI and the watch.

- `record_rotation(runtime, actor, name, at=None)`: the secret was rotated (`opsbook secret rotated`);
  open compromises of it end, their incidents resolve, a rotation-failure alert resolves;
- `report_compromise(runtime, actor, name, reason)`: opens an incident whose SLA is the emergency rotation
  deadline (`emergency_within`, 24 h by default) with the rotation procedure as its runbook;
- `report_rotation_failure(runtime, actor, name, message)`: the rotation job's hook: alerts at once;
- `learn_rotations(runtime, ...)`: what the watch calls: rotations from successful runbook runs of the
  rotation procedure and from the configured command or file, each with the same consequences as a
  recorded one.

Each owns its transaction, audit row and `Topic.SECRETS` event. Values of secrets never enter opsbook.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbook.auth.roles import SYSTEM, Principal, Role
from opsbook.errors import Invalid, NotFound
from opsbook.events import DomainEvent, Topic
from opsbook.runtime import Runtime
from opsbook.secrets import alerting, store
from opsbook.secrets.age import SecretState, judge
from opsbook.secrets.config import SecretConfig
from opsbook.secrets.models import CompromiseRow, RotationRow
from opsbook.timefmt import show_time
from opsbook.usecase import Tx, transaction


class NoSuchSecret(NotFound):
    pass


def secret_of(runtime: Runtime, name: str) -> SecretConfig:
    for secret in runtime.config.secrets:
        if secret.name == name:
            return secret
    known = ", ".join(s.name for s in runtime.config.secrets) or "none configured"
    raise NoSuchSecret(f"no secret {name!r} in the inventory (known: {known})")


# --- use cases ------------------------------------------------------------------------------------


def record_rotation(runtime: Runtime, actor: Principal, name: str, *, at: datetime | None = None,
                    note: str = "") -> RotationRow:
    """The secret was rotated at `at` (default now)."""
    secret = secret_of(runtime, name)
    with transaction(runtime, actor, needs=Role.RESPONDER) as tx:
        when = at or tx.now
        if when > tx.now:
            raise Invalid(f"a rotation cannot be in the future ({show_time(when, runtime.config.timezone)})")
        row = store.add_rotation(tx.session, name, when, "manual", tx.now, actor=actor.name, note=note)
        assert row is not None
        _after_rotation(runtime, tx, secret, row)
        tx.audit("secret.rotated", f"secret:{name}", rotated_at=when.isoformat(), note=note)
        return row


def report_compromise(runtime: Runtime, actor: Principal, name: str, reason: str) -> CompromiseRow:
    """A suspected compromise: an incident due (SLA) by the emergency deadline, paged at once."""
    secret = secret_of(runtime, name)
    if not reason.strip():
        raise Invalid("say why the secret is thought compromised (--reason)")
    with transaction(runtime, actor, needs=Role.RESPONDER) as tx:
        due = tx.now + secret.emergency_within
        incident, alert_id = alerting.compromised(runtime, tx, secret, reason.strip(), due)
        row = CompromiseRow(secret=name, reported_at=tx.now, reported_by=actor.name, reason=reason.strip(),
                            due_at=due, incident_id=incident.id, alert_id=alert_id, rotated_at=None)
        tx.session.add(row)
        tx.session.flush()
        tx.audit("secret.compromised", f"secret:{name}", reason=reason, incident=incident.id,
                 due_at=due.isoformat())
        tx.emit(DomainEvent(Topic.SECRETS, "compromised", f"secret:{name}", {"incident": incident.id}),
                DomainEvent(Topic.INCIDENTS, "opened", f"incident:{incident.id}"))
        return row


def report_rotation_failure(runtime: Runtime, actor: Principal, name: str, message: str) -> int:
    """The rotation job reports a failure: an alert at once (the secret's urgent severity). Returns how
    many alert changes it made (0 when the alert fires already)."""
    secret = secret_of(runtime, name)
    with transaction(runtime, actor, needs=Role.RESPONDER) as tx:
        text = message.strip() or "no detail"
        transitions = alerting.rotation_failed(runtime, tx.session, secret, text, tx.now)
        tx.audit("secret.rotation_failed", f"secret:{name}", message=message[:500])
        tx.emit(DomainEvent(Topic.SECRETS, "rotation failed", f"secret:{name}"))
        return len(transitions)


def learn_rotations(runtime: Runtime, read: Mapping[str, datetime]) -> list[RotationRow]:
    """Record rotations opsbook found itself: successful runs of rotation procedures, and `read` (secret →
    the last rotation its command or file shows). Each ends compromises and failures like a recorded one."""
    secrets = {s.name: s for s in runtime.config.secrets}
    with transaction(runtime, SYSTEM) as tx:
        found = store.runbook_rotations(tx.session, rotation_procedures(runtime), tx.now)
        for name, at in read.items():
            configured = secrets[name].last_rotated
            source = "command" if configured is not None and configured.command else "file"
            row = store.add_rotation(tx.session, name, min(at, tx.now), source, tx.now)
            if row is not None:
                found.append(row)
        for row in found:
            _after_rotation(runtime, tx, secrets[row.secret], row)
        return found


def rotation_procedures(runtime: Runtime) -> dict[str, list[SecretConfig]]:
    """The rotation procedures the runbook folders have (by ref) → the secrets each rotates; a procedure
    the folders lack is skipped (`opsbook validate` names it)."""
    from opsbook.runbooks.service import find_procedure

    out: dict[str, list[SecretConfig]] = {}
    for secret in runtime.config.secrets:
        if not secret.rotation:
            continue
        try:
            ref = find_procedure(runtime, secret.rotation).ref
        except LookupError:
            continue
        out.setdefault(ref, []).append(secret)
    return out


def _after_rotation(runtime: Runtime, tx: Tx, secret: SecretConfig, row: RotationRow) -> None:
    ended = [c for c in _open(tx.session, secret.name) if c.reported_at <= row.rotated_at]
    for compromise in ended:
        compromise.rotated_at = row.rotated_at
    note = f"secret {secret.name} rotated {show_time(row.rotated_at, runtime.config.timezone)} ({row.source})"
    alerting.rotated(runtime, tx, secret, [c.incident_id for c in ended if c.incident_id is not None], note)
    tx.emit(DomainEvent(Topic.SECRETS, "rotated", f"secret:{secret.name}", {"source": row.source}))


def _open(session: Session, name: str) -> list[CompromiseRow]:
    return list(session.scalars(select(CompromiseRow).where(CompromiseRow.secret == name,
                                                            CompromiseRow.rotated_at.is_(None))))


# --- reading --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SecretView:
    config: SecretConfig
    state: SecretState
    last: RotationRow | None
    compromise: CompromiseRow | None


def states(session: Session, secrets: list[SecretConfig], now: datetime) -> list[SecretView]:
    names = [s.name for s in secrets]
    last = store.last_rotations(session, names)
    compromises = store.open_compromises(session, names)
    out = []
    for s in secrets:
        row, open_one = last.get(s.name), compromises.get(s.name)
        state = judge(s, row.rotated_at if row else None, open_one.due_at if open_one else None, now)
        out.append(SecretView(s, state, row, open_one))
    return out


def secret_views(runtime: Runtime, name: str | None = None) -> list[SecretView]:
    secrets = [secret_of(runtime, name)] if name is not None else list(runtime.config.secrets)
    with runtime.sessions() as session:
        return states(session, secrets, runtime.clock.now())
