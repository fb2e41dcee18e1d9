"""Paging and the response SLA: the escalation steps of an incident's snapshotted policy, each paging
its people (notify.messages.IncidentPage: a link to the incident's page, a signed ack link and the command
that acknowledges, the runbooks with their pages, the first one's first steps and the command that runs it,
and for an escalated page its level and who was paged before), and the record of a missed acknowledgement
deadline.

`advance(session, config, row, now)` is what the escalation engine runs on every open incident, and
what opening an incident runs at once: it sends the due steps not sent yet, records a missed SLA (and
then pages the next level early), emits `Topic.INCIDENTS` events in the caller's transaction, and says
when to look again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbook.config.schema import OpsbookConfig
from opsbook.config.types import format_duration
from opsbook.deploys.queries import recent_line
from opsbook.events import DomainEvent, Topic, emit
from opsbook.incidents import sla
from opsbook.incidents.models import RESOLVED, EscalationStepRow, IncidentRow, TimelineRow
from opsbook.incidents.queries import runbooks_of
from opsbook.incidents.records import add_entry
from opsbook.incidents.signed import link_secret, link_url, make_token
from opsbook.incidents.updates import post_update
from opsbook.notify.messages import Escalation, IncidentPage, RunbookLink
from opsbook.notify.service import send
from opsbook.oncall.config import EscalationPolicy, split_target
from opsbook.oncall.escalation import Step, due_steps, escalation_state, restore
from opsbook.oncall.service import resolve_targets
from opsbook.runbooks.commands import ack_command
from opsbook.timefmt import show_time


@dataclass
class Advance:
    """What `advance` did to one incident and when it must look again."""

    sent: list[EscalationStepRow] = field(default_factory=list)
    breached: bool = False
    next_at: datetime | None = None


def _policy(row: IncidentRow) -> EscalationPolicy | None:
    return restore(row.policy) if row.policy else None


def _known_user(config: OpsbookConfig, name: str | None) -> str | None:
    """The configured user behind an actor name ('ben', 'token:ben', 'cli:ben'), or None."""
    if not name:
        return None
    known = {u.name for u in config.users}
    for candidate in (name, name.rpartition(":")[2]):
        if candidate in known:
            return candidate
    return None


def sent_keys(session: Session, incident_id: int) -> set[str]:
    return set(session.scalars(select(EscalationStepRow.step_key).where(
        EscalationStepRow.incident_id == incident_id)))


def advance(session: Session, config: OpsbookConfig, row: IncidentRow, now: datetime) -> Advance:
    """Send every due escalation step of `row` not sent yet, record a missed SLA; say when to look again.

    Steps come from the policy snapshotted when the incident opened, never from the current config.
    """
    out = Advance()
    if row.status == RESOLVED:
        return out
    policy = _policy(row)
    acked_by = _known_user(config, row.acknowledged_by)
    if policy is not None:
        done = sent_keys(session, row.id)
        for step in due_steps(policy, row.opened_at, now, row.acknowledged_at, row.resolved_at, acked_by):
            if step.key not in done:
                out.sent.append(send_step(session, config, row, step, now))
                done.add(step.key)
    breach = check_sla(session, config, row, now, escalate=True)
    if breach is not None:
        out.breached = True
        out.sent += breach
    subject = f"incident:{row.id}"
    emit(session, *(DomainEvent(Topic.INCIDENTS, "paged", subject, {"step": s.step_key}) for s in out.sent))
    if out.breached:
        emit(session, DomainEvent(Topic.INCIDENTS, "sla missed", subject))
    candidates: list[datetime] = []
    if policy is not None:
        state = escalation_state(policy, row.opened_at, now, row.acknowledged_at, row.resolved_at, acked_by)
        if state.next is not None:
            candidates.append(state.next.due)
    if row.ack_deadline is not None and row.sla_breached_at is None and row.acknowledged_at is None:
        candidates.append(max(row.ack_deadline, now))
    out.next_at = min(candidates) if candidates else None
    return out


def send_step(
    session: Session, config: OpsbookConfig, row: IncidentRow, step: Step, now: datetime, reason: str = ""
) -> EscalationStepRow:
    """Record one escalation step and page each of its users on their contacts for the severity."""
    users = resolve_targets(session, config, step.targets, now)
    step_row = EscalationStepRow(
        incident_id=row.id, step_key=step.key, kind=step.kind, level=step.level, round=step.round,
        targets=list(step.targets), users=users, due_at=step.due, sent_at=now,
    )
    session.add(step_row)
    session.flush()  # the unique (incident, step) key stops a second sender here
    paged: list[str] = []
    unreachable: list[str] = []
    where = escalation_of(session, row, step, reason)
    for user in users:
        (paged if page_user(session, config, row, user, now, step.key, where) else unreachable).append(user)
    if step.kind == "renotify":
        what = f"Re-notified (still not resolved, #{step.round})"
    else:
        what = f"Escalation level {step.level + 1}" + (f", round {step.round + 1}" if step.round else "")
    text = f"{what}: paged {', '.join(paged)}" if paged else f"{what}: nobody could be paged"
    if unreachable:
        text += f"; no contact for {row.severity}: {', '.join(unreachable)}"
    if not users:
        empty = [t for t in step.targets if split_target(t)[0] == "schedule"]
        if empty:
            text += f" (nobody on call on {', '.join(split_target(t)[1] for t in empty)})"
    if reason:
        text += f" ({reason})"
    add_entry(session, row, now, "page", text, "opsbook", step=step.key, level=step.level, round=step.round,
              users=users, paged=paged, due=step.due.isoformat())
    return step_row


def escalation_of(session: Session, row: IncidentRow, step: Step, reason: str = "") -> Escalation:
    """Where `step` stands in the escalation: its level and round from 1, and whom the level steps sent
    before it reached (as their timeline entries record; nobody acknowledged, or it would not be sent)."""
    policy = _policy(row)
    if step.kind == "renotify":
        return Escalation(level=1, levels=len(policy.levels) if policy else 1, reminder=step.round,
                          acknowledged_by=row.acknowledged_by or "", reason=reason)
    before: list[str] = []
    pages = select(TimelineRow).where(TimelineRow.incident_id == row.id, TimelineRow.kind == "page")
    for entry in session.scalars(pages.order_by(TimelineRow.ts, TimelineRow.id)):
        if str(entry.detail.get("step", "")).startswith("renotify"):
            continue
        before += [u for u in entry.detail.get("paged", ()) if u not in before]
    return Escalation(level=step.level + 1, levels=len(policy.levels) if policy else step.level + 1,
                      round=step.round + 1, paged_before=tuple(before), reason=reason)


def runbook_links(
    config: OpsbookConfig, names: list[str], incident_id: int, base_url: str | None = None
) -> tuple[RunbookLink, ...]:
    """The runbooks named by an incident's alerts as a page shows them: each with its page (under `base_url`,
    default the config's) and the command that runs it for the incident, the first found with its first
    steps; a URL as it is; a name the runbook folders do not have, bare."""
    # the runbook parser (Markdown) is loaded by the first page, not with the incident use cases: an
    # acknowledgement from the CLI pages nobody
    from opsbook.runbooks.catalog import ProcedureNotFound, catalog_of
    from opsbook.runbooks.commands import run_command
    from opsbook.runbooks.service import first_steps, procedure_link

    catalog = catalog_of(config.runbooks)
    out: list[RunbookLink] = []
    for name in names:
        if name.startswith(("https://", "http://")):
            out.append(RunbookLink(name, url=name))
            continue
        try:
            found = catalog.resolve(name)
        except ProcedureNotFound:
            out.append(RunbookLink(name))
            continue
        steps = () if any(link.steps for link in out) else tuple(first_steps(found.procedure))
        url = procedure_link(found, config.base_url if base_url is None else base_url)
        out.append(RunbookLink(name, url, run_command(config.server, name, incident_id), steps))
    return tuple(out)


def incident_link(config: OpsbookConfig, incident_id: int) -> str:
    return f"{config.base_url.rstrip('/')}/ui/incidents/{incident_id}"


def page_user(session: Session, config: OpsbookConfig, row: IncidentRow, user: str, now: datetime,
              step_key: str, escalation: Escalation | None = None) -> bool:
    """Page `user` on each contact for the incident's severity, with a signed ack link.

    Returns False if the user has no contact for this severity (or is not in the config any more)."""
    secret = link_secret(session, config.incidents.link_secret)
    names = runbooks_of(session, row.id)
    page = IncidentPage(
        incident_id=row.id, step=step_key, user=user, severity=row.severity, title=row.title,
        status=row.status, summary=row.summary, service=row.service, since=row.opened_at,
        ack_link=link_url(config.base_url, make_token(secret, row.id, now, user)),
        runbooks=tuple(names), link=incident_link(config, row.id),
        ack_command=ack_command(config.server, row.id), runbook_links=runbook_links(config, names, row.id),
        escalation=escalation, recent_deploy=recent_line(session, row.service, now, config.server),
        affected=tuple(s for s in row.services or [] if s != row.service),
    )
    return bool(send(session, config, page, now))


def check_sla(session: Session, config: OpsbookConfig, row: IncidentRow, now: datetime, *,
              escalate: bool) -> list[EscalationStepRow] | None:
    """Record a missed acknowledgement deadline once: timeline, update message, and (while unacknowledged,
    if only the first level was paged so far) the next level paged at once.

    None if nothing was missed (or it was recorded before), else the steps sent because of it."""
    if row.sla_breached_at is not None or not sla.breached(row.ack_deadline, now, row.acknowledged_at):
        return None
    assert row.ack_deadline is not None
    row.sla_breached_at = row.ack_deadline
    row.updated_at = now
    allowed = row.ack_deadline - row.opened_at
    entry = add_entry(session, row, now, "sla_breach",
                      f"SLA missed: not acknowledged within {format_duration(allowed)} "
                      f"({row.severity} deadline {show_time(row.ack_deadline, config.timezone)})", "opsbook",
                      deadline=row.ack_deadline.isoformat())
    post_update(session, config, row, now, entry)
    policy = _policy(row)
    if not escalate or row.acknowledged_at is not None or policy is None:
        return []
    done = sent_keys(session, row.id)
    if done - {"r0-l0"}:
        return []  # escalation already went past the first responders
    state = escalation_state(policy, row.opened_at, now)
    upcoming = [s for s in (*state.due, *([state.next] if state.next else [])) if s.key not in done]
    if not upcoming:
        return []
    return [send_step(session, config, row, upcoming[0], now, reason="SLA missed")]

