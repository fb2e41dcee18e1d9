"""Fanning public events out to subscribers, each event once (see service.sync for the rules).

An event has a key: `incident:12:opened`, `incident:12:update:3`, `incident:12:resolved`,
`maintenance:<window>:<start>`. One round finds the recent events (published incidents touching a public
service, open or resolved within LOOKBACK; maintenance of public services starting within the lead
time), leaves out the keys announced before, and for each incident sends one message with everything new
about it (opening, new public updates, resolution) to every active subscriber of the services told,
recording each key with those services. The opening fixes the services an incident is told for; a later
message of it leaves out the services in a maintenance at that time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from opsbook.config.schema import OpsbookConfig
from opsbook.incidents.models import RESOLVED, IncidentRow, PublicUpdateRow
from opsbook.incidents.public import public_status, shown_title
from opsbook.notify.service import cancel_channel, send
from opsbook.silences.service import UpcomingMaintenance, upcoming_maintenance
from opsbook.statuspage.incidents import public_services_of
from opsbook.subscribers.messages import (
    IncidentNotice,
    MaintenanceNotice,
    PublicUpdateLine,
    ToSubscriber,
    channel_of,
)
from opsbook.subscribers.models import ACTIVE, PENDING, AnnouncementRow, SubscriberRow

LOOKBACK = timedelta(days=1)
"""Events older than this when first seen are not announced (opsbook was down, or just upgraded)."""
KEEP = timedelta(days=30)
"""Announcement records are kept this long (longer than LOOKBACK, so nothing is announced twice)."""

KEEPALIVE_AHEAD = timedelta(hours=1)
"""Maintenance is looked for this far beyond the lead time (the watch wakes at least this often)."""

LinkMaker = Callable[[Session, OpsbookConfig, int, str, datetime], str]
"""(session, config, subscriber id, unsubscribe nonce, now) -> the subscriber's unsubscribe link."""
CHUNK = 200
"""Messages queued per transaction: a large fan-out never holds the (SQLite: only) writer for long."""


@dataclass
class IncidentNews:
    """What is new about one published incident this round."""

    row: IncidentRow
    services: list[str]
    keys: list[str] = field(default_factory=list)
    updates: list[tuple[int, PublicUpdateLine]] = field(default_factory=list)  # (number, update)
    opened: bool = False
    resolved: bool = False

    @property
    def event(self) -> str:
        return "resolved" if self.resolved else "opened" if self.opened else "updated"


def _known(session: Session, keys: Iterable[str]) -> dict[str, AnnouncementRow]:
    wanted = list(keys)
    found: dict[str, AnnouncementRow] = {}
    for start in range(0, len(wanted), 500):
        query = select(AnnouncementRow).where(AnnouncementRow.key.in_(wanted[start:start + 500]))
        found.update((row.key, row) for row in session.scalars(query))
    return found


def incident_news(session: Session, public: set[str], now: datetime) -> list[IncidentNews]:
    """The published incidents touching a public service, recent or open, with the keys of their events
    and their public updates (all of them: the caller leaves out those announced)."""
    recent = (IncidentRow.status != RESOLVED) | (IncidentRow.resolved_at >= now - LOOKBACK)
    rows = session.scalars(
        select(IncidentRow).where(IncidentRow.customer_facing.is_(True), recent).order_by(IncidentRow.id))
    news = [IncidentNews(row, services) for row in rows if (services := public_services_of(row, public))]
    updates: dict[int, list[PublicUpdateRow]] = defaultdict(list)
    if news:
        for update in session.scalars(select(PublicUpdateRow).where(
                PublicUpdateRow.incident_id.in_([n.row.id for n in news])).order_by(PublicUpdateRow.number)):
            updates[update.incident_id].append(update)
    for item in news:
        item.keys.append(f"incident:{item.row.id}:opened")
        item.keys += [f"incident:{item.row.id}:update:{u.number}" for u in updates[item.row.id]]
        if item.row.status == RESOLVED:
            item.keys.append(f"incident:{item.row.id}:resolved")
        item.updates = [(u.number, PublicUpdateLine(u.ts, u.status, u.text)) for u in updates[item.row.id]]
    return news


@dataclass
class Maintenance:
    """Public maintenance as one round sees it: the services in one now, the notices due, the next one."""

    now: set[str] = field(default_factory=set)
    due: list[tuple[str, UpcomingMaintenance, list[str]]] = field(default_factory=list)
    next_due: datetime | None = None


def maintenance(session: Session, config: OpsbookConfig, public: set[str], now: datetime) -> Maintenance:
    lead = config.status_page.subscribers.maintenance_lead
    found = Maintenance()
    for m in upcoming_maintenance(session, now, config.maintenance_windows, horizon=lead + KEEPALIVE_AHEAD,
                                  services=config.services):
        shown = sorted(s for s in m.services if s in public)
        if not shown:
            continue
        if m.in_progress:
            found.now.update(shown)
        elif now >= m.starts_at - lead:
            found.due.append((f"{m.ref}:{m.starts_at:%Y%m%dT%H%MZ}", m, shown))
        else:
            due = m.starts_at - lead
            found.next_due = due if found.next_due is None else min(found.next_due, due)
    return found


class Fanout:
    """One round's sending: the active subscribers, their unsubscribe links made once each. Every CHUNK
    messages the transaction is committed (`commit`): an event is recorded as announced only after all its
    messages are queued, so a round cut short is done again, and the dedup keys keep anyone from getting a
    message twice."""

    def __init__(self, session: Session, config: OpsbookConfig, now: datetime, unsubscribe: LinkMaker,
                 commit: Callable[[], None]) -> None:
        self.session, self.config, self.now, self.unsubscribe = session, config, now, unsubscribe
        self.commit = commit
        self.page = config.status_page.title or config.title
        self.base = config.base_url.rstrip("/")
        self.subscribers = session.execute(
            select(SubscriberRow.id, SubscriberRow.services, SubscriberRow.unsubscribe_nonce)
            .where(SubscriberRow.status == ACTIVE).order_by(SubscriberRow.id)).all()
        self._links: dict[int, str] = {}
        self._queued = 0

    def to(self, services: Iterable[str], make: Callable[[dict[str, Any]], ToSubscriber]) -> int:
        """Send `make(common fields)` to every subscriber of any of `services`; returns how many."""
        wanted = set(services)
        receivers = [s for s in self.subscribers if wanted and (not s[1] or wanted & set(s[1]))]
        for subscriber_id, _services, nonce in receivers:
            if subscriber_id not in self._links:
                self._links[subscriber_id] = self.unsubscribe(self.session, self.config, subscriber_id, nonce,
                                                              self.now)
            common = {"subscriber_id": subscriber_id, "page": self.page, "page_link": f"{self.base}/status",
                      "unsubscribe_link": self._links[subscriber_id]}
            send(self.session, self.config, make(common), self.now)
            self._queued += 1
            if self._queued % CHUNK == 0:
                self.commit()
        return len(receivers)

    def record(self, key: str, services: list[str], told: int, note: str = "") -> None:
        self.session.add(AnnouncementRow(key=key, ts=self.now, services=services, told=told, note=note))


def _incident(fan: Fanout, item: IncidentNews, known: dict[str, AnnouncementRow], paused: set[str]) -> None:
    fresh = [k for k in item.keys if k not in known]
    if not fresh:
        return
    opening = known.get(item.keys[0])
    told = [s for s in (opening.services if opening else item.services) if s not in paused]
    item.opened = opening is None
    item.resolved = fresh[-1].endswith(":resolved")
    numbers = {int(k.rsplit(":", 1)[1]) for k in fresh if ":update:" in k}
    updates = tuple(u for n, u in item.updates if item.opened or n in numbers)
    said = item.updates[-1][1].status if item.updates else public_status(item.row.status)
    count = fan.to(told, lambda common: IncidentNotice(
        **common, key=fresh[-1], incident_id=item.row.id, event=item.event, title=shown_title(item.row),
        status="resolved" if item.resolved else said, services=tuple(item.services), updates=updates,
    ))
    for key in fresh:
        fan.record(key, told, count, "" if told else "in maintenance")


def _maintenance(fan: Fanout, key: str, m: UpcomingMaintenance, shown: list[str]) -> None:
    def notice(common: dict[str, Any]) -> ToSubscriber:
        return MaintenanceNotice(
            **common, key=key, title=m.title, description=m.description, services=tuple(shown),
            starts_at=m.starts_at, ends_at=m.ends_at, calendar_link=f"{fan.base}/status/maintenance.ics",
        )

    fan.record(key, shown, fan.to(shown, notice))


def announce(
    session: Session, config: OpsbookConfig, now: datetime, unsubscribe: LinkMaker,
    commit: Callable[[], None] | None = None,
) -> datetime | None:
    """Fan out every event not announced yet; returns when the next maintenance notice falls due. With
    `commit`, the session's transaction is committed every CHUNK messages (the caller commits the rest)."""
    public = {s.name for s in config.services if s.public}
    planned = maintenance(session, config, public, now)
    news = incident_news(session, public, now)
    known = _known(session, [k for n in news for k in n.keys] + [k for k, _m, _s in planned.due])
    fan = Fanout(session, config, now, unsubscribe, commit or (lambda: None))
    for item in news:
        _incident(fan, item, known, planned.now)
    for key, m, shown in planned.due:
        if key not in known:
            _maintenance(fan, key, m, shown)
    return planned.next_due


def forget(session: Session, config: OpsbookConfig, now: datetime) -> datetime | None:
    """Delete announcement records older than KEEP and subscriptions never confirmed in time (with their
    confirmation if it is still waiting to be delivered); returns when the next one left runs out."""
    session.execute(delete(AnnouncementRow).where(AnnouncementRow.ts < now - KEEP))
    expired = now - config.status_page.subscribers.confirm_within
    stale = list(session.scalars(select(SubscriberRow.id).where(
        SubscriberRow.status == PENDING, SubscriberRow.created_at < expired,
        SubscriberRow.confirm_sent_at.is_(None) | (SubscriberRow.confirm_sent_at < expired))))
    for subscriber_id in stale:
        cancel_channel(session, channel_of(subscriber_id), now, "never confirmed")
    if stale:
        session.execute(delete(SubscriberRow).where(SubscriberRow.id.in_(stale)))
    waiting = session.execute(select(SubscriberRow.created_at, SubscriberRow.confirm_sent_at)
                              .where(SubscriberRow.status == PENDING)).all()
    if not waiting:
        return None
    last_asked = min(max(created, sent or created) for created, sent in waiting)
    return last_asked + config.status_page.subscribers.confirm_within + timedelta(seconds=1)
