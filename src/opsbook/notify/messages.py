"""The messages people receive, as typed values: an alert firing or resolved, an incident page, an
incident update, an SLA breach, a handoff brief, an on-call gap warning, a channel test.

Every one is handed to `opsbook.notify.service.send(session, config, message, now)`, which routes it,
renders it, groups and dedups it and queues one outbox row per channel. A message says:

- `kind`: its name in the outbox, and the name of its template (notify/templates.py; replaceable under
  `notifications.templates.<kind>`);
- `destination(config, now)`: where it goes and when (notify/routing.py: by severity, to a person's
  contacts, to the incident update channels);
- `dedup_key()`: what it is once of (the same key sent again to the same channel adds nothing);
- `context()`: the variables of its template; `tags()`: what its outbox rows record besides the text;
- `essentials()`: lines its body must carry even if a custom template leaves them out.

Adding a kind of message (a deploy, a backup, a secret about to expire...) is a frozen dataclass here
and a default template under its kind.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, ClassVar

from opsbook.alerts.types import AlertTransition, TransitionKind
from opsbook.config.schema import OpsbookConfig
from opsbook.notify.routing import Destination, by_severity, to_person, to_update_channels
from opsbook.rules.severity import Severity
from opsbook.timefmt import show_span


@dataclass(frozen=True)
class Tags:
    """What an outbox row records of its message besides the text (for lists, grouping and delivery)."""

    severity: str | None = None
    service: str | None = None
    check_id: str | None = None
    alert_id: int | None = None
    incident_id: int | None = None
    refs: Mapping[str, Any] = field(default_factory=dict)


class Message(ABC):
    """One message for people; see the module docstring for what each method says."""

    @property
    @abstractmethod
    def kind(self) -> str: ...

    @abstractmethod
    def destination(self, config: OpsbookConfig, now: datetime) -> Destination: ...

    @abstractmethod
    def dedup_key(self) -> str | None: ...

    @abstractmethod
    def context(self) -> dict[str, Any]: ...

    def tags(self) -> Tags:
        return Tags()

    def essentials(self) -> dict[str, str]:
        """{text the body must contain: the line added when it does not}."""
        return {}


@dataclass(frozen=True)
class AlertMessage(Message):
    """An alert fired or resolved, with its runbook's first steps and the check's last message."""

    transition: AlertTransition
    runbook_url: str = ""
    runbook_steps: tuple[str, ...] = ()
    detail: str = ""
    link: str = ""
    recent_deploy: str = ""  # the service's deploy in the last hour and how to roll it back
    affected: tuple[str, ...] = ()  # other services whose alerts this one causes (they depend on it)

    @property
    def kind(self) -> str:
        return "firing" if self.transition.kind is TransitionKind.FIRED else "resolved"

    def destination(self, config: OpsbookConfig, now: datetime) -> Destination:
        t = self.transition
        group = f"{t.service}:{self.kind}" if t.service else None
        return by_severity(config, t.severity, now, group_key=group)

    def dedup_key(self) -> str:
        return self.transition.notification_key()

    def context(self) -> dict[str, Any]:
        t = self.transition
        return {
            "severity": t.severity.value, "service": t.service, **t.template_context(),
            "runbook_url": self.runbook_url, "runbook_steps": list(self.runbook_steps),
            "detail": self.detail, "link": self.link, "recent_deploy": self.recent_deploy,
            "affected": list(self.affected),
        }

    def tags(self) -> Tags:
        t = self.transition
        return Tags(t.severity.value, t.service, t.check_id, t.alert_id)


@dataclass(frozen=True)
class RunbookLink:
    """A runbook an incident's alerts name, as a page shows it."""

    name: str
    url: str = ""  # its page; '' when the runbook folders have no such procedure (then no command either)
    command: str = ""  # `opsbook runbook run "NAME" --incident N`, as typed
    steps: tuple[str, ...] = ()  # its first steps, each one line


@dataclass(frozen=True)
class Escalation:
    """Where a page stands in its incident's escalation (people-facing numbers, from 1)."""

    level: int  # the level paged now
    levels: int  # how many levels the policy has
    round: int = 1  # the pass through the levels
    paged_before: tuple[str, ...] = ()  # who was paged before and did not acknowledge
    reason: str = ""  # why now, if not on schedule ("SLA missed")
    reminder: int = 0  # re-notification number (acknowledged, not resolved); 0 for a level's page
    acknowledged_by: str = ""

    @property
    def escalated(self) -> bool:
        return not self.reminder and (self.level > 1 or self.round > 1)


@dataclass(frozen=True)
class IncidentPage(Message):
    """One escalation step paging one person on their contacts for the incident's severity."""

    kind: ClassVar[str] = "incident"
    incident_id: int
    step: str  # the escalation step key: "r0-l1", "renotify-2"
    user: str
    severity: str
    title: str
    status: str
    summary: str
    service: str | None
    since: datetime
    ack_link: str
    runbooks: tuple[str, ...] = ()
    link: str = ""  # the incident's page
    ack_command: str = ""  # `opsbook incident ack N`
    runbook_links: tuple[RunbookLink, ...] = ()
    escalation: Escalation | None = None
    recent_deploy: str = ""  # the service's deploy in the last hour and how to roll it back
    affected: tuple[str, ...] = ()  # the other services of the incident: they depend on its service

    def destination(self, config: OpsbookConfig, now: datetime) -> Destination:
        return to_person(config, self.user, (self.severity,))

    def dedup_key(self) -> str:
        return f"incident:{self.incident_id}:{self.step}"

    def context(self) -> dict[str, Any]:
        return {
            "incident_id": self.incident_id, "title": self.title, "status": self.status,
            "severity": self.severity, "summary": self.summary, "service": self.service, "since": self.since,
            "user": self.user, "ack_link": self.ack_link, "runbooks": list(self.runbooks), "link": self.link,
            "ack_command": self.ack_command, "runbook_links": list(self.runbook_links),
            "escalation": self.escalation, "escalated": bool(self.escalation and self.escalation.escalated),
            "recent_deploy": self.recent_deploy, "affected": list(self.affected),
        }

    def tags(self) -> Tags:
        refs = {"step": self.step, "user": self.user, "notify_type": "failure"}
        return Tags(self.severity, self.service, incident_id=self.incident_id, refs=refs)

    def essentials(self) -> dict[str, str]:
        lines = {self.ack_link: f"Acknowledge: {self.ack_link}"}
        if self.link:
            lines[self.link] = f"Incident: {self.link}"
        return lines


@dataclass(frozen=True)
class IncidentFacts:
    """The parts of an incident an update shows."""

    id: int
    title: str
    service: str | None
    services: tuple[str, ...]
    status: str
    severity: str
    impact: str
    eta: str
    customer_facing: bool


@dataclass(frozen=True)
class Update:
    """One line of an update's history: a timeline entry."""

    ts: datetime
    text: str


@dataclass(frozen=True)
class IncidentUpdate(Message):
    """The incident's state and its latest updates (newest first), in the runbooks' format, posted once
    per timeline entry to the update channels."""

    kind: ClassVar[str] = "update"
    notify_type: ClassVar[str] = "info"
    incident: IncidentFacts
    updates: tuple[Update, ...]
    entry_id: int  # the timeline entry this update is for

    def destination(self, config: OpsbookConfig, now: datetime) -> Destination:
        return to_update_channels(config, self.incident.severity, now)

    def dedup_key(self) -> str:
        return f"incident:{self.incident.id}:update:{self.entry_id}"

    def context(self) -> dict[str, Any]:
        i = self.incident
        where = i.service or ", ".join(i.services) or "(no service)"
        return {
            "incident_id": i.id, "title": i.title, "where": where,
            "others": [s for s in i.services if s != i.service], "status": i.status, "severity": i.severity,
            "impact": i.impact, "eta": i.eta, "customer_facing": i.customer_facing, "updates": self.updates,
        }

    def tags(self) -> Tags:
        refs = {"update": self.entry_id, "notify_type": self.notify_type}
        return Tags(self.incident.severity, self.incident.service, incident_id=self.incident.id, refs=refs)


@dataclass(frozen=True)
class SlaBreach(IncidentUpdate):
    """The incident was not acknowledged by its deadline: an update that says so in its subject."""

    kind: ClassVar[str] = "sla"
    notify_type: ClassVar[str] = "warning"
    deadline: datetime

    def context(self) -> dict[str, Any]:
        return {**super().context(), "deadline": self.deadline}


@dataclass(frozen=True)
class Turn:
    """Someone's time on call next to the shift a brief is about."""

    name: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class OpenIncident:
    id: int
    severity: str
    status: str
    service: str | None
    title: str
    since: datetime


@dataclass(frozen=True)
class Note:
    author: str
    at: datetime
    text: str


@dataclass(frozen=True)
class HandoffBrief(Message):
    """What the incoming person is told at the start of a shift, on their least urgent contacts."""

    kind: ClassVar[str] = "handoff"
    CONTACTS: ClassVar[tuple[str, ...]] = ("P3", "P2", "P1", "P0")
    """The brief goes to the contacts of the first of these severities the user has any for."""
    schedule: str
    zone: str
    user: str
    name: str  # how the user is called
    start: datetime
    until: datetime
    previous: Turn | None
    next: Turn | None
    incidents: tuple[OpenIncident, ...] = ()
    more_incidents: bool = False
    notes: tuple[Note, ...] = ()

    def destination(self, config: OpsbookConfig, now: datetime) -> Destination:
        return to_person(config, self.user, self.CONTACTS, action="notify")

    def dedup_key(self) -> str:
        return f"handoff:{self.schedule}:{self.start.isoformat()}:{self.user}"

    def context(self) -> dict[str, Any]:
        return {
            "schedule": self.schedule, "zone": self.zone, "name": self.name, "start": self.start,
            "until": self.until, "previous": self.previous, "next": self.next, "incidents": self.incidents,
            "more_incidents": self.more_incidents, "notes": self.notes,
        }

    def tags(self) -> Tags:
        refs = {"schedule": self.schedule, "user": self.user, "shift_start": self.start.isoformat(),
                "notify_type": "info"}
        return Tags(refs=refs)


@dataclass(frozen=True)
class GapWarning(Message):
    """Nobody will be on call on a schedule: where P3 messages go, held until business hours unless
    that would be after the gap began."""

    kind: ClassVar[str] = "gap"
    SEVERITY: ClassVar[str] = Severity.P3.value
    schedule: str
    zone: str
    start: datetime
    end: datetime
    shown_start: datetime  # `start`, or now for a gap going on since before opsbook looked back
    description: str
    began_long_ago: bool
    may_last_longer: bool
    lookback_days: int
    days_ahead: int
    users: tuple[str, ...] = ()  # the schedule's people, one of whom the suggested override names

    def destination(self, config: OpsbookConfig, now: datetime) -> Destination:
        found = by_severity(config, self.SEVERITY, now)
        if found.send_after is not None and found.send_after >= self.start:
            return replace(found, send_after=None)  # a warning arriving after the gap began is of no use
        return found

    def dedup_key(self) -> str:
        return f"gap:{self.schedule}:{'ongoing' if self.began_long_ago else self.start.isoformat()}"

    def context(self) -> dict[str, Any]:
        hours = round((self.end - self.shown_start).total_seconds() / 3600, 1)
        return {
            "schedule": self.schedule, "zone": self.zone, "description": self.description,
            "shown_start": self.shown_start, "end": self.end, "hours": f"{hours:g}",
            "length": show_span(self.end - self.shown_start),
            "began_long_ago": self.began_long_ago, "may_last_longer": self.may_last_longer,
            "lookback_days": self.lookback_days, "days_ahead": self.days_ahead, "users": list(self.users),
        }

    def tags(self) -> Tags:
        refs = {"schedule": self.schedule, "gap_start": self.start.isoformat(),
                "gap_end": self.end.isoformat(), "notify_type": "warning"}
        return Tags(self.SEVERITY, refs=refs)


@dataclass(frozen=True)
class ChannelTest(Message):
    """`opsbook notify test CHANNEL`: a message to one channel, to see that it works."""

    kind: ClassVar[str] = "test"
    channel: str
    at: datetime

    def destination(self, config: OpsbookConfig, now: datetime) -> Destination:
        return Destination((self.channel,))

    def dedup_key(self) -> None:
        return None

    def context(self) -> dict[str, Any]:
        return {"channel": self.channel, "now": self.at}


@dataclass(frozen=True)
class SecretReminder(Message):
    """A secret's rotation is due soon, overdue, or its last rotation unknown: its owner is told, on their
    contacts for the severity (the secret's alert tells the team by routing)."""

    kind: ClassVar[str] = "secret"
    secret: str
    owner: str
    state: str  # "due soon" | "overdue" | "unknown"
    severity: str
    protects: str
    every: str
    description: str  # the secret's age against its policy, in words
    last_rotated: datetime | None
    due_at: datetime | None
    rotation: str = ""  # the procedure that rotates it

    def destination(self, config: OpsbookConfig, now: datetime) -> Destination:
        return to_person(config, self.owner, [self.severity], action="notify")

    def dedup_key(self) -> str:
        last = self.last_rotated.isoformat() if self.last_rotated else "never"
        return f"secret:{self.secret}:{self.state}:{last}"

    def context(self) -> dict[str, Any]:
        return {
            "secret": self.secret, "owner": self.owner, "state": self.state, "severity": self.severity,
            "protects": self.protects, "every": self.every, "description": self.description,
            "last_rotated": self.last_rotated, "due_at": self.due_at, "rotation": self.rotation,
        }

    def tags(self) -> Tags:
        return Tags(self.severity, "secrets", f"secrets/{self.secret}",
                    refs={"secret": self.secret, "user": self.owner, "notify_type": "warning"})


@dataclass(frozen=True)
class ChoreReminder(Message):
    """A recurring chore fell due: its assignee is told on their contacts for the chore's reminder
    severity (P4 unless configured); the overdue alert, if it comes to that, goes by routing."""

    kind: ClassVar[str] = "chore"
    chore: str
    due_id: int
    assignee: str
    procedure: str
    severity: str
    due_at: datetime
    deadline: datetime
    link: str = ""

    def destination(self, config: OpsbookConfig, now: datetime) -> Destination:
        return to_person(config, self.assignee, [self.severity], action="notify")

    def dedup_key(self) -> str:
        return f"chore:{self.due_id}"

    def context(self) -> dict[str, Any]:
        return {
            "chore": self.chore, "due_id": self.due_id, "assignee": self.assignee,
            "procedure": self.procedure, "severity": self.severity, "due_at": self.due_at,
            "deadline": self.deadline, "link": self.link,
        }

    def tags(self) -> Tags:
        return Tags(self.severity, "chores", f"chores/{self.chore}",
                    refs={"chore": self.chore, "user": self.assignee, "notify_type": "info"})
