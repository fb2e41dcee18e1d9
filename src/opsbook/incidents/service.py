"""The incident use cases: everything a person can change about an incident, one function each.

Each opens one transaction (`opsbook.usecase.transaction`, the responder role), makes the change with
the lifecycle functions (timeline entry, paging, update message), and records it: the audit row and a
`DomainEvent(Topic.INCIDENTS, ...)`, published once the transaction commits (the escalation engine and
the status page react to it). The API, the web UI and the CLI call these and present the result; errors
are opsbook.errors (no incident: NotFound; resolved already: Conflict; bad input: Invalid).

What opsbook itself does to incidents runs in the pipeline's transactions instead: alerts opening and
joining incidents (linking.py) and the escalation engine's steps (paging.advance).
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from opsbook.auth.roles import Principal, Role
from opsbook.errors import Invalid
from opsbook.events import DomainEvent, Topic
from opsbook.incidents import lifecycle, public
from opsbook.incidents.models import RESOLVED, AckTokenRow, IncidentRow, PublicUpdateRow, TimelineRow
from opsbook.incidents.queries import get_incident
from opsbook.incidents.signed import LinkUsed, claim_of
from opsbook.runtime import Runtime
from opsbook.usecase import transaction


def open_incident(
    runtime: Runtime,
    actor: Principal,
    *,
    title: str,
    severity: str,
    service: str | None = None,
    summary: str = "",
    impact: str = "",
    customer_facing: bool = False,
    commander: str | None = None,
) -> IncidentRow:
    """Open an incident by hand: its escalation policy pages the first level at once."""
    config = runtime.config
    if service is not None and service not in {s.name for s in config.services}:
        raise Invalid(f"no service {service!r} in the configuration")
    with transaction(runtime, actor, needs=Role.RESPONDER) as tx:
        row = lifecycle.open_incident(
            tx.session, config, tx.now, title=title, severity=severity, service=service, summary=summary,
            impact=impact, customer_facing=customer_facing, commander=commander, actor=actor,
        )
        target = f"incident:{row.id}"
        tx.audit("incident.open", target, title=row.title, severity=row.severity, service=service)
        tx.emit(DomainEvent(Topic.INCIDENTS, "opened", target))
        return row


def acknowledge_incident(
    runtime: Runtime, actor: Principal, incident_id: int, *, via: str = ""
) -> IncidentRow:
    """Acknowledge: stops the escalation (acknowledging again changes nothing)."""
    with transaction(runtime, actor, needs=Role.RESPONDER) as tx:
        changes = lifecycle.acknowledge(tx.session, runtime.config, incident_id, tx.now, actor, via)
        lifecycle.record(tx, changes)
        return get_incident(tx.session, incident_id)


def set_incident_status(
    runtime: Runtime, actor: Principal, incident_id: int, status: str, *, message: str = "",
    impact: str | None = None, eta: str | None = None,
) -> IncidentRow:
    """Set the status (acknowledged, investigating, identified, monitoring, resolved), the impact, the ETA."""
    with transaction(runtime, actor, needs=Role.RESPONDER) as tx:
        changes = lifecycle.set_status(tx.session, runtime.config, incident_id, status, tx.now, actor,
                                       message, impact, eta)
        lifecycle.record(tx, changes)
        return get_incident(tx.session, incident_id)


def set_incident_severity(
    runtime: Runtime, actor: Principal, incident_id: int, severity: str, *, message: str = ""
) -> IncidentRow:
    """Change the severity (and, while unacknowledged, the SLA deadline)."""
    with transaction(runtime, actor, needs=Role.RESPONDER) as tx:
        changes = lifecycle.set_severity(tx.session, runtime.config, incident_id, severity, tx.now, actor,
                                         message)
        lifecycle.record(tx, changes)
        return get_incident(tx.session, incident_id)


def add_incident_note(runtime: Runtime, actor: Principal, incident_id: int, text: str) -> TimelineRow:
    """Add a note to the timeline."""
    with transaction(runtime, actor, needs=Role.RESPONDER) as tx:
        [note] = lifecycle.add_note(tx.session, runtime.config, incident_id, text, tx.now, actor)
        lifecycle.record(tx, [note])
        return note.entry


def update_incident_details(
    runtime: Runtime, actor: Principal, incident_id: int, *, title: str | None = None,
    commander: str | None = None, customer_facing: bool | None = None,
) -> IncidentRow:
    """Change the title, the commander or whether customers are affected."""
    with transaction(runtime, actor, needs=Role.RESPONDER) as tx:
        changes = lifecycle.update_details(tx.session, incident_id, tx.now, actor, commander=commander,
                                           customer_facing=customer_facing, title=title)
        lifecycle.record(tx, changes)
        return get_incident(tx.session, incident_id)


def resolve_incident(
    runtime: Runtime, actor: Principal, incident_id: int, *, message: str = ""
) -> IncidentRow:
    """Resolve: ends the escalation and re-notifications."""
    with transaction(runtime, actor, needs=Role.RESPONDER) as tx:
        changes = lifecycle.resolve(tx.session, runtime.config, incident_id, tx.now, actor, message)
        lifecycle.record(tx, changes)
        return get_incident(tx.session, incident_id)


def acknowledge_with_link(
    runtime: Runtime, token: str, *, source: str = "link", incident_id: int | None = None
) -> IncidentRow:
    """Acknowledge through a signed link, once, as the person it was sent to (the link is the credential).

    The link's nonce is recorded in the same transaction, so of two uses at once one fails (LinkUsed)."""
    with runtime.sessions.begin() as session:  # the secret may be created on first use
        claim = claim_of(session, runtime.config, token, runtime.clock.now(), incident_id)
    actor = Principal(claim.user or "ack-link", Role.RESPONDER, source)
    with transaction(runtime, actor, needs=Role.RESPONDER) as tx:
        claim = claim_of(tx.session, runtime.config, token, tx.now, incident_id)
        tx.session.add(AckTokenRow(nonce=claim.nonce, incident_id=claim.incident_id, user=claim.user,
                                   used_at=tx.now, source=source[:100]))
        try:
            tx.session.flush()
        except IntegrityError:  # a concurrent use of the same link came first
            raise LinkUsed() from None
        row = get_incident(tx.session, claim.incident_id)
        if row.acknowledged_at is None and row.status != RESOLVED:
            changes = lifecycle.acknowledge(tx.session, runtime.config, row.id, tx.now, actor, "link")
            lifecycle.record(tx, changes)
        else:
            tx.audit("incident.ack_link", f"incident:{row.id}", already=row.status)
        return row


def publish_incident(
    runtime: Runtime, actor: Principal, incident_id: int, *, title: str | None = None, message: str = "",
    status: str | None = None,
) -> IncidentRow:
    """Show the incident on the status page under its public title (`title` sets or changes it); with a
    `message`, post it as a public update in the same change."""
    with transaction(runtime, actor, needs=Role.RESPONDER) as tx:
        changes = public.publish(tx.session, incident_id, tx.now, actor, title)
        if message.strip():
            changes += public.post(tx.session, incident_id, message, tx.now, actor, status)[1]
        lifecycle.record(tx, changes)
        return get_incident(tx.session, incident_id)


def unpublish_incident(runtime: Runtime, actor: Principal, incident_id: int) -> IncidentRow:
    """Take the incident's title and public updates off the status page."""
    with transaction(runtime, actor, needs=Role.RESPONDER) as tx:
        lifecycle.record(tx, public.unpublish(tx.session, incident_id, tx.now, actor))
        return get_incident(tx.session, incident_id)


def post_public_update(
    runtime: Runtime, actor: Principal, incident_id: int, text: str, *, status: str | None = None
) -> PublicUpdateRow:
    """Post an update for customers on a published incident (Conflict if it is not published)."""
    with transaction(runtime, actor, needs=Role.RESPONDER) as tx:
        update, changes = public.post(tx.session, incident_id, text, tx.now, actor, status)
        lifecycle.record(tx, changes)
        return update


def edit_public_update(
    runtime: Runtime, actor: Principal, incident_id: int, number: int, text: str, *, status: str | None = None
) -> PublicUpdateRow:
    """Correct public update `number` (from 1) of the incident: its text, and its status if given."""
    with transaction(runtime, actor, needs=Role.RESPONDER) as tx:
        update, changes = public.edit(tx.session, incident_id, number, text, tx.now, actor, status)
        lifecycle.record(tx, changes)
        return update
