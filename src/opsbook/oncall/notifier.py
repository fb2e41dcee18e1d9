"""The on-call notifier: tells the incoming person at the start of each shift, and warns of gaps ahead.

    notifier = OncallNotifier(runtime, on_enqueued=delivery_worker.wake)
    task = asyncio.create_task(notifier.run())

`tick(now)` does, in one transaction, what is due at `now`:

- **Handoffs.** For every shift of every schedule that began within the last hour (`CATCH_UP`), the
  user on call is sent a brief on their contact methods: that they are on call, until when, who handed
  over, who comes next, the open incidents, and the handoff notes left for them. The outbox dedup key
  `handoff:SCHEDULE:SHIFT_START:USER` makes it once per shift, whatever the restarts: a process started
  at 09:05 still sends the 09:00 brief, and one restarted at 09:10 does not send it again. The contacts
  used are those of the least urgent severity the user has any for (P3, else P2, P1, P0), so someone
  with SMS for P0/P1 and e-mail for P2/P3 gets the brief by e-mail.
- **Gaps.** Once a day at `GAP_CHECK_AT` (09:00) in the team's `timezone` (and at start-up within the
  hour after it), every gap of the next `GAP_DAYS` (7) days is warned about on the channels P3
  notifications route to, held until business hours as P3 routing says, unless that would be after
  the gap began. The dedup key `gap:SCHEDULE:GAP_START` warns of each gap once. A schedule whose layers
  are all restricted (business hours only, say) is meant to be off outside its windows: its gaps are
  warned about only if they reach into a restriction window.

`tick` returns when it must run next: the next shift start of any schedule or the next gap check,
whichever comes first. `run()` sleeps until then on the injected clock, but at most `max_wait`, since
overrides added meanwhile move shift starts. All state is in the outbox, so nothing is kept between
ticks but the day of the last gap check (to skip repeating it within the hour).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbook.incidents.models import IncidentRow
from opsbook.incidents.paging import user_contacts
from opsbook.incidents.service import list_incidents
from opsbook.notify.models import OutboxRow
from opsbook.notify.outbox import enqueue
from opsbook.notify.routing import route_for
from opsbook.oncall import gaps as gaps_mod
from opsbook.oncall import service
from opsbook.oncall.config import Schedule, User
from opsbook.oncall.rotation import local_to_utc, restriction_windows, utc_to_local, zone_of

if TYPE_CHECKING:
    from opsbook.config.schema import OpsbookConfig
    from opsbook.runtime import Runtime

log = logging.getLogger(__name__)

CATCH_UP = timedelta(hours=1)
"""A shift start or gap check missed by less than this (process down, slow tick) is still done."""
GAP_CHECK_AT = time(9, 0)
"""Local time (team `timezone`) of the daily gap check."""
GAP_DAYS = 7
"""How far ahead gaps are warned about."""
GAP_LOOKBACK = timedelta(days=35)
"""How far back a gap going on now is traced to its start (its dedup key)."""
HANDOFF_SEVERITIES = ("P3", "P2", "P1", "P0")
"""The brief goes to the contacts of the first of these severities the user has any for."""
MAX_WAIT = timedelta(minutes=10)
RETRY_AFTER = timedelta(seconds=30)
OPEN_INCIDENTS_SHOWN = 20
HANDOFF_KIND = "handoff"
GAP_KIND = "oncall-gap"


@dataclass(frozen=True)
class Message:
    subject: str
    body: str


@dataclass
class TickResult:
    """What one tick enqueued (outbox row ids) and when the next is due."""

    handoffs: list[int]
    gap_warnings: list[int]
    next_at: datetime


class OncallNotifier:
    """Handoff briefs and gap warnings on the injected clock. The outbox is the state."""

    def __init__(
        self,
        runtime: Runtime,
        on_enqueued: Callable[[], None] = lambda: None,
        *,
        max_wait: timedelta = MAX_WAIT,
    ) -> None:
        self.runtime = runtime
        self.on_enqueued = on_enqueued
        self.max_wait = max_wait
        self._gaps_checked: date | None = None  # local day of the last gap check by this instance

    # --- one pass -------------------------------------------------------------------------------

    def tick(self, now: datetime) -> datetime:
        """Send what is due at `now` (one transaction); return when the next tick is due (blocking)."""
        return self.tick_result(now).next_at

    def tick_result(self, now: datetime) -> TickResult:
        config = self.runtime.config
        upcoming: list[datetime] = []
        check_at, next_check = gap_checks(now, config.timezone)
        check_day = utc_to_local(check_at, zone_of(config.timezone)).date()
        gaps_due = check_at <= now < check_at + CATCH_UP and self._gaps_checked != check_day
        with self.runtime.sessions.begin() as session:
            handoffs = self._handoffs(session, config, now, upcoming)
            warnings = self._gap_warnings(session, config, now) if gaps_due else []
        if gaps_due:
            self._gaps_checked = check_day
        upcoming.append(next_check)
        if handoffs or warnings:
            with contextlib.suppress(Exception):
                self.on_enqueued()
        return TickResult(handoffs, warnings, min(upcoming))

    def _handoffs(
        self, session: Session, config: OpsbookConfig, now: datetime, upcoming: list[datetime]
    ) -> list[int]:
        """Brief everyone whose shift began in (now - CATCH_UP, now]; note each schedule's next start."""
        users = service.users_by_name(config)
        incidents: list[IncidentRow] | None = None
        sent: list[int] = []
        for schedule in config.schedules:
            found = service.schedule_shifts(session, config, schedule.name, now - service.HORIZON,
                                            now + service.HORIZON)
            later = [s.start for s in found if s.start > now]
            if later:
                upcoming.append(min(later))
            for shift in found:
                if not now - CATCH_UP < shift.start <= now:
                    continue
                brief = service.pending_handoff(session, config, schedule.name, shift.user, now)
                user = users.get(shift.user)
                if brief is None or brief.shift.start != shift.start or user is None:
                    continue
                contacts = handoff_contacts(user)
                if not contacts:
                    log.warning("%s is on call on %s but has no contact methods: no handoff brief sent",
                                user.name, schedule.name)
                    continue
                if incidents is None:
                    incidents = list_incidents(session, open_only=True, limit=OPEN_INCIDENTS_SHOWN + 1)
                message = handoff_message(brief, users, incidents, title=config.title)
                key = f"handoff:{schedule.name}:{shift.start.isoformat()}:{user.name}"
                for channel in contacts:
                    if _queued(session, channel, key):
                        continue
                    row = enqueue(session, channel=channel, subject=message.subject, body=message.body,
                                  kind=HANDOFF_KIND, now=now, dedup_key=key,
                                  refs={"schedule": schedule.name, "user": user.name,
                                        "shift_start": shift.start.isoformat(), "notify_type": "info"})
                    sent.append(row.id)
        return sent

    def _gap_warnings(self, session: Session, config: OpsbookConfig, now: datetime) -> list[int]:
        """Warn of each gap of the next GAP_DAYS days on the P3 channels, once per gap."""
        decision = route_for(config, "P3", now)
        if not decision.channels:
            return []
        sent: list[int] = []
        for schedule in config.schedules:
            for found in upcoming_gaps(session, schedule, now):
                gap = found.gap
                message = gap_message(found, schedule.timezone, now, title=config.title)
                key = f"gap:{schedule.name}:{'ongoing' if found.began_long_ago else gap.start.isoformat()}"
                hold = decision.send_after
                if hold is not None and hold >= gap.start:
                    hold = None  # a warning that would arrive after the gap began is of no use
                for channel in decision.channels:
                    if _queued(session, channel, key):
                        continue
                    row = enqueue(session, channel=channel, subject=message.subject, body=message.body,
                                  kind=GAP_KIND, now=now, dedup_key=key, severity="P3", send_after=hold,
                                  refs={"schedule": schedule.name, "gap_start": gap.start.isoformat(),
                                        "gap_end": gap.end.isoformat(), "notify_type": "warning"})
                    sent.append(row.id)
        return sent

    # --- the loop -------------------------------------------------------------------------------

    async def run(self) -> None:
        """Forever: tick in a thread, then sleep until the next tick is due (at most `max_wait`)."""
        clock = self.runtime.clock
        while True:
            now = clock.now()
            deadline = now + RETRY_AFTER
            try:
                nxt = await asyncio.to_thread(self.tick, now)
                deadline = min(max(nxt, now), now + self.max_wait)
            except Exception:
                log.exception("on-call notifications failed; trying again in %s", RETRY_AFTER)
            await clock.sleep_until(deadline)


def _queued(session: Session, channel: str, dedup_key: str) -> bool:
    """Whether this message was enqueued before (by this or an earlier process)."""
    query = select(OutboxRow.id).where(OutboxRow.channel == channel, OutboxRow.dedup_key == dedup_key)
    return session.scalar(query) is not None


# --- pure helpers ---------------------------------------------------------------------------------


def gap_checks(now: datetime, timezone: str) -> tuple[datetime, datetime]:
    """The last gap check at or before `now` and the next one after it (UTC), at GAP_CHECK_AT local."""
    zone = zone_of(timezone)
    today = utc_to_local(now, zone).date()
    at = local_to_utc(datetime.combine(today, GAP_CHECK_AT), zone)
    if at <= now:
        return at, local_to_utc(datetime.combine(today + timedelta(days=1), GAP_CHECK_AT), zone)
    return local_to_utc(datetime.combine(today - timedelta(days=1), GAP_CHECK_AT), zone), at


def handoff_contacts(user: User) -> list[str]:
    """The outbox channels for a handoff brief: the least urgent severity's contacts the user has."""
    for severity in HANDOFF_SEVERITIES:
        found = user_contacts(user, severity)
        if found:
            return [channel for channel, _url in found]
    return []


@dataclass(frozen=True)
class FoundGap:
    """A gap going on now or ahead; its start is cut at GAP_LOOKBACK ago and its end at GAP_DAYS ahead."""

    gap: gaps_mod.Gap
    began_long_ago: bool = False  # began before the lookback: its real start is unknown
    may_last_longer: bool = False  # reaches the end of the look-ahead


def upcoming_gaps(session: Session, schedule: Schedule, now: datetime) -> list[FoundGap]:
    """The gaps of `schedule` going on now or starting within GAP_DAYS days, that it means to cover."""
    since, until = now - GAP_LOOKBACK, now + timedelta(days=GAP_DAYS)
    found = gaps_mod.gaps(schedule, since, until, service.overrides_for(session, schedule.name, since, until))
    return [
        FoundGap(g, g.start <= since, g.end >= until)
        for g in found
        if g.end > now and meant_to_be_covered(schedule, g)
    ]


def meant_to_be_covered(schedule: Schedule, gap: gaps_mod.Gap) -> bool:
    """False for a gap wholly outside the restriction windows of a schedule whose layers all have some
    (nights of a business-hours schedule); True otherwise."""
    if any(not layer.restrictions for layer in schedule.layers):
        return True
    zone = zone_of(schedule.timezone)
    return any(restriction_windows(layer.restrictions, zone, gap.start, gap.end) for layer in schedule.layers)


def _name(users: dict[str, User], name: str) -> str:
    user = users.get(name)
    return user.display if user is not None else name


def handoff_message(
    brief: service.HandoffBrief,
    users: dict[str, User],
    incidents: Sequence[IncidentRow],
    *,
    title: str = "opsbook",
) -> Message:
    """The brief the incoming person gets: on call until when, who handed over, what is open, the notes."""
    tz = brief.timezone
    shift, previous, upcoming = brief.shift, brief.previous, brief.next
    until = service.local_label(shift.end, tz)
    subject = f"{title}: you are on call for {brief.schedule} until {until} ({tz})"
    lines = [
        f"{_name(users, brief.user)}, you are on call for {brief.schedule} "
        f"from {service.local_label(shift.start, tz)} until {until} ({tz}).",
    ]
    if previous is not None and previous.end == shift.start:
        lines.append(f"Handing over: {_name(users, previous.user)} "
                     f"(on call since {service.local_label(previous.start, tz)}).")
    elif previous is not None:
        lines.append(f"Nobody was on call before you since {service.local_label(previous.end, tz)} "
                     f"(last: {_name(users, previous.user)}).")
    else:
        lines.append("Nobody was on call before you.")
    if upcoming is not None and upcoming.start == shift.end:
        lines.append(f"Next: {_name(users, upcoming.user)} takes over at {until}.")
    elif upcoming is not None:
        lines.append(f"Next: nobody until {service.local_label(upcoming.start, tz)} "
                     f"({_name(users, upcoming.user)}).")
    else:
        lines.append("Next: nobody is scheduled after you.")
    lines.append("")
    shown = list(incidents[:OPEN_INCIDENTS_SHOWN])
    if shown:
        more = "+" if len(incidents) > OPEN_INCIDENTS_SHOWN else ""
        lines.append(f"Open incidents ({len(shown)}{more}):")
        for row in shown:
            service_part = f" [{row.service}]" if row.service else ""
            lines.append(f"  #{row.id} {row.severity} {row.status}{service_part}: {row.title} "
                         f"(since {service.local_label(row.opened_at, tz)})")
    else:
        lines.append("Open incidents: none.")
    lines.append("")
    if brief.notes:
        lines.append("Handoff notes:")
        for note in brief.notes:
            lines.append(f"  From {_name(users, note.author)}, {service.local_label(note.created_at, tz)}:")
            lines.extend(f"    {line}" if line else "" for line in note.text.splitlines())
    else:
        lines.append("Handoff notes: none.")
    return Message(subject, "\n".join(lines))


def gap_message(found: FoundGap, timezone: str, now: datetime, *, title: str = "opsbook") -> Message:
    """The warning for a gap: when nobody is on call, how long, and how to fill it."""
    zone = zone_of(timezone)
    gap = found.gap
    shown = gaps_mod.Gap(gap.schedule, max(gap.start, now), gap.end) if found.began_long_ago else gap
    start = utc_to_local(shown.start, zone)
    end = utc_to_local(shown.end, zone)
    subject = f"{title}: on-call gap on {gap.schedule} from {start:%a %Y-%m-%d %H:%M} ({timezone})"
    hours = round(shown.duration.total_seconds() / 3600, 1)
    lines = [f"Warning: {gaps_mod.describe(shown, timezone)}."]
    if found.began_long_ago:
        lines.append(f"Nobody has been on call on {gap.schedule} for over {GAP_LOOKBACK.days} days.")
    elif found.may_last_longer:
        lines.append(f"That is {hours:g} hours without anyone to page, or more: the schedule has nobody "
                     f"after that either, as far as opsbook looks ahead ({GAP_DAYS} days).")
    else:
        lines.append(f"That is {hours:g} hours without anyone to page.")
    lines += [
        "",
        "Fill it with an override, e.g.",
        f"  opsbook oncall override add {gap.schedule} USER "
        f"--from {start:%Y-%m-%dT%H:%M} --to {end:%Y-%m-%dT%H:%M}",
    ]
    return Message(subject, "\n".join(lines))
