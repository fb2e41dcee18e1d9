"""The on-call notifier: tells the incoming person at the start of each shift, and warns of gaps ahead.

    notifier = OncallNotifier(runtime, supervisor=supervisor)
    notifier.start(); ...; notifier.wake(); ...; await notifier.stop()

`tick(now)` does, in one transaction, what is due at `now`, as messages handed to notify:

- **Handoffs.** For every shift of every schedule that began within the last hour (`CATCH_UP`), the
  user on call is sent a brief (notify.messages.HandoffBrief) on their contact methods: that they are on
  call, until when, who handed over, who comes next, the open incidents, and the handoff notes left for
  them. Its dedup key `handoff:SCHEDULE:SHIFT_START:USER` makes it once per shift, whatever the
  restarts: a process started at 09:05 still sends the 09:00 brief, and one restarted at 09:10 does not
  send it again. The contacts used are those of the least urgent severity the user has any for (P3,
  else P2, P1, P0), so someone with SMS for P0/P1 and e-mail for P2/P3 gets the brief by e-mail.
- **Gaps.** Once a day at `GAP_CHECK_AT` (09:00) in the team's `timezone` (and at start-up within the
  hour after it), every gap of the next `GAP_DAYS` (7) days is warned about (notify.messages.GapWarning)
  on the channels P3 notifications route to, held until business hours as P3 routing says, unless that
  would be after the gap began. The dedup key `gap:SCHEDULE:GAP_START` warns of each gap once. A
  schedule whose layers are all restricted (business hours only, say) is meant to be off outside its
  windows: its gaps are warned about only if they reach into a restriction window.

`tick` returns when it must run next: the next shift start of any schedule or the next gap check,
whichever comes first. The notifier is a supervised `Loop`: it sleeps until then on the injected clock,
but at most `max_wait`, since overrides added meanwhile move shift starts, or until `wake()` (an
on-call change was committed). All state is in the outbox, so nothing is kept between ticks but the day
of the last gap check (to skip repeating it within the hour).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy.orm import Session

from opsbook.config.schema import OpsbookConfig
from opsbook.incidents.models import IncidentRow
from opsbook.incidents.queries import list_incidents
from opsbook.loops import Loop, Looped, Supervisor
from opsbook.notify import messages
from opsbook.notify.service import send
from opsbook.oncall import gaps as gaps_mod
from opsbook.oncall import service, store
from opsbook.oncall.config import Schedule, User
from opsbook.oncall.rotation import Shift, local_to_utc, restriction_windows, utc_to_local, zone_of
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
MAX_WAIT = timedelta(minutes=10)
RETRY_AFTER = timedelta(seconds=30)
OPEN_INCIDENTS_SHOWN = 20


@dataclass
class TickResult:
    """What one tick queued (outbox row ids) and when the next is due."""

    handoffs: list[int]
    gap_warnings: list[int]
    next_at: datetime


class OncallNotifier(Looped):
    """Handoff briefs and gap warnings on the injected clock. The outbox is the state."""

    def __init__(
        self, runtime: Runtime, *, max_wait: timedelta = MAX_WAIT, supervisor: Supervisor | None = None
    ) -> None:
        self.runtime = runtime
        self._gaps_checked: date | None = None  # local day of the last gap check by this instance
        self.loop = Loop("on-call notifier", self.step, runtime.clock, max_wait=max_wait,
                         supervisor=supervisor, backoff_first=RETRY_AFTER)


    async def step(self) -> datetime:
        """One tick at the clock's time, in a thread; when the next is due."""
        return await asyncio.to_thread(self.tick, self.runtime.clock.now())

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
        return TickResult(handoffs, warnings, min(upcoming))

    def _handoffs(
        self, session: Session, config: OpsbookConfig, now: datetime, upcoming: list[datetime]
    ) -> list[int]:
        """Brief everyone whose shift began in (now - CATCH_UP, now]; note each schedule's next start."""
        users = store.users_by_name(config)
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
                if brief is None or brief.shift.start != shift.start or shift.user not in users:
                    continue
                if incidents is None:
                    incidents = list_incidents(session, open_only=True, limit=OPEN_INCIDENTS_SHOWN + 1)
                message = handoff_message(brief, users, incidents)
                if not message.destination(config, now).channels:
                    log.warning("%s is on call on %s but has no contact methods: no handoff brief sent",
                                shift.user, schedule.name)
                    continue
                sent += [row.id for row in send(session, config, message, now)]
        return sent

    def _gap_warnings(self, session: Session, config: OpsbookConfig, now: datetime) -> list[int]:
        """Warn of each gap of the next GAP_DAYS days on the P3 channels, once per gap."""
        sent: list[int] = []
        for schedule in config.schedules:
            for found in upcoming_gaps(session, schedule, now):
                people = tuple(dict.fromkeys(u for layer in schedule.layers for u in layer.users))
                warning = gap_message(found, schedule.timezone, now, people)
                sent += [row.id for row in send(session, config, warning, now)]
        return sent


# --- pure helpers ---------------------------------------------------------------------------------


def gap_checks(now: datetime, timezone: str) -> tuple[datetime, datetime]:
    """The last gap check at or before `now` and the next one after it (UTC), at GAP_CHECK_AT local."""
    zone = zone_of(timezone)
    today = utc_to_local(now, zone).date()
    at = local_to_utc(datetime.combine(today, GAP_CHECK_AT), zone)
    if at <= now:
        return at, local_to_utc(datetime.combine(today + timedelta(days=1), GAP_CHECK_AT), zone)
    return local_to_utc(datetime.combine(today - timedelta(days=1), GAP_CHECK_AT), zone), at


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
    brief: service.HandoffBrief, users: dict[str, User], incidents: Sequence[IncidentRow]
) -> messages.HandoffBrief:
    """The brief the incoming person gets: on call until when, who handed over, what is open, the notes."""

    def turn(shift: Shift | None) -> messages.Turn | None:
        return None if shift is None else messages.Turn(_name(users, shift.user), shift.start, shift.end)

    shown = incidents[:OPEN_INCIDENTS_SHOWN]
    return messages.HandoffBrief(
        schedule=brief.schedule, zone=brief.timezone, user=brief.user, name=_name(users, brief.user),
        start=brief.shift.start, until=brief.shift.end, previous=turn(brief.previous), next=turn(brief.next),
        incidents=tuple(messages.OpenIncident(r.id, r.severity, r.status, r.service, r.title, r.opened_at)
                        for r in shown),
        more_incidents=len(incidents) > len(shown),
        notes=tuple(messages.Note(_name(users, n.author), n.created_at, n.text) for n in brief.notes),
    )


def gap_message(
    found: FoundGap, timezone: str, now: datetime, users: tuple[str, ...] = ()
) -> messages.GapWarning:
    """The warning for a gap: when nobody is on call, how long, and how to fill it."""
    gap = found.gap
    shown = gaps_mod.Gap(gap.schedule, max(gap.start, now), gap.end) if found.began_long_ago else gap
    return messages.GapWarning(
        schedule=gap.schedule, zone=timezone, start=gap.start, end=gap.end, shown_start=shown.start,
        description=gaps_mod.describe(shown, timezone), began_long_ago=found.began_long_ago,
        may_last_longer=found.may_last_longer, lookback_days=GAP_LOOKBACK.days, days_ahead=GAP_DAYS,
        users=users,
    )
