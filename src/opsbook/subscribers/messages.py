"""The messages subscribers receive, as notify messages (opsbook.notify.messages): the confirmation of a
subscription, a published incident (opened, updated, resolved) and a maintenance ahead.

Each goes to the one outbox channel of its subscriber (`subscriber:ID`, resolved to an address by
channels.py when it is delivered) and carries only public text: the public title, the public updates,
the public services. Every one names its unsubscribe link, even under a custom template (`essentials`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

from opsbook.config.schema import OpsbookConfig
from opsbook.notify.messages import Message, Tags
from opsbook.notify.routing import Destination
from opsbook.timefmt import show_span

PREFIX = "subscriber:"


def channel_of(subscriber_id: int) -> str:
    """The outbox channel of one subscriber."""
    return f"{PREFIX}{subscriber_id}"


def subscriber_of(channel: str) -> int | None:
    """The subscriber id of an outbox channel, or None for any other channel."""
    rest = channel.removeprefix(PREFIX)
    return int(rest) if rest != channel and rest.isdigit() else None


@dataclass(frozen=True)
class ToSubscriber(Message):
    """What every subscriber message shares: whom it is for, the page's name and links."""

    subscriber_id: int
    page: str
    page_link: str
    unsubscribe_link: str

    def destination(self, config: OpsbookConfig, now: datetime) -> Destination:
        return Destination((channel_of(self.subscriber_id),))

    def shared(self) -> dict[str, Any]:
        return {"page": self.page, "page_link": self.page_link, "unsubscribe_link": self.unsubscribe_link}

    def essentials(self) -> dict[str, str]:
        if not self.unsubscribe_link:
            return {}
        return {self.unsubscribe_link: f"Unsubscribe: {self.unsubscribe_link}"}


@dataclass(frozen=True)
class SubscriptionConfirm(ToSubscriber):
    """Confirm this subscription (or this change of it): the double opt-in."""

    kind: ClassVar[str] = "status_confirm"
    nonce: str
    channel_kind: str  # email | webhook
    services: tuple[str, ...]
    confirm_link: str
    within: timedelta
    change: bool = False

    def dedup_key(self) -> str:
        return f"sub:{self.subscriber_id}:confirm:{self.nonce}"

    def context(self) -> dict[str, Any]:
        return {**self.shared(), "kind": self.channel_kind, "services": list(self.services),
                "confirm_link": self.confirm_link, "within": show_span(self.within), "change": self.change}

    def essentials(self) -> dict[str, str]:
        return {self.confirm_link: f"Confirm: {self.confirm_link}"}

    def tags(self) -> Tags:
        return Tags(refs={"subscriber": self.subscriber_id, "notify_type": "info"})


@dataclass(frozen=True)
class PublicUpdateLine:
    """One public update as subscribers read it."""

    ts: datetime
    status: str
    text: str


@dataclass(frozen=True)
class IncidentNotice(ToSubscriber):
    """A published incident opened, was updated or resolved: its public title, services and updates."""

    kind: ClassVar[str] = "status_incident"
    key: str  # the announcement: `incident:12:update:3`
    incident_id: int
    event: str  # opened | updated | resolved
    title: str
    status: str
    services: tuple[str, ...]
    updates: tuple[PublicUpdateLine, ...]  # the new ones, oldest first

    def dedup_key(self) -> str:
        return f"sub:{self.subscriber_id}:{self.key}"

    def context(self) -> dict[str, Any]:
        return {**self.shared(), "event": self.event, "title": self.title, "status": self.status,
                "services": list(self.services), "updates": list(self.updates)}

    def tags(self) -> Tags:
        kind = "success" if self.event == "resolved" else "warning"
        return Tags(refs={"subscriber": self.subscriber_id, "announcement": self.key, "notify_type": kind})


@dataclass(frozen=True)
class MaintenanceNotice(ToSubscriber):
    """A scheduled maintenance of subscribed services starts within the lead time."""

    kind: ClassVar[str] = "status_maintenance"
    key: str
    title: str
    description: str
    services: tuple[str, ...]
    starts_at: datetime
    ends_at: datetime
    calendar_link: str

    def dedup_key(self) -> str:
        return f"sub:{self.subscriber_id}:{self.key}"

    def context(self) -> dict[str, Any]:
        return {**self.shared(), "title": self.title, "description": self.description,
                "services": list(self.services), "starts_at": self.starts_at, "ends_at": self.ends_at,
                "calendar_link": self.calendar_link}

    def tags(self) -> Tags:
        return Tags(refs={"subscriber": self.subscriber_id, "announcement": self.key, "notify_type": "info"})
