"""`opsbook oncall now|show|gaps|ical|handoff` and `opsbook oncall override add|list|remove`.

Times are ISO 8601; without an offset they are read in the schedule's time zone (the team's `timezone:`
where no schedule is involved). `--at` replaces the current time, to look at another moment; changes are
made now. They are the use cases of `opsbook.oncall.service`, as from the API and the web UI; who acts is
`--as`/`--author`, else $OPSBOOK_USER, else the login name (`cli_actor`).
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from opsbook.cli.common import (
    AuthorOption,
    ConfigOption,
    cli_actor,
    cli_errors,
    console,
    fail,
    parse_time,
    runtime_or_exit,
)
from opsbook.oncall import gaps as gaps_mod
from opsbook.oncall import service, store
from opsbook.oncall.rotation import local_to_utc, zone_of
from opsbook.runtime import Runtime
from opsbook.timefmt import show_span, show_time

app = typer.Typer(no_args_is_help=True, help="On-call: who is on call, schedules, overrides, handoffs.")
override_app = typer.Typer(no_args_is_help=True, help="Overrides: someone covers a stretch of a schedule.")
app.add_typer(override_app, name="override")

AtOption = Annotated[
    str | None, typer.Option("--at", help="Look at this moment instead of now (+1d, tomorrow 09:00, ISO).")
]


def _now(runtime: Runtime, at: str | None) -> datetime:
    return parse_time(at, runtime, "--at") if at else runtime.clock.now()


def _fmt(t: datetime, timezone: str) -> str:
    return show_time(t, timezone, fmt="%a %Y-%m-%d %H:%M")


def _who(runtime: Runtime, user: str | None) -> str:
    if user is None:
        return "[bold red]nobody[/]"
    found = store.users_by_name(runtime.config).get(user)
    return f"[bold]{user}[/]" + (f" ({found.full_name})" if found and found.full_name else "")


def _schedule_names(runtime: Runtime, schedule: str | None) -> list[str]:
    """The schedule asked for (it must exist), or every schedule (there must be one)."""
    if schedule is not None:
        with cli_errors(runtime):
            store.get_schedule(runtime.config, schedule)
        return [schedule]
    names = [s.name for s in runtime.config.schedules]
    if not names:
        raise fail("no schedules are configured (add a `schedules:` section to opsbook.yaml)")
    return names


@app.command("now")
def now_cmd(
    schedule: Annotated[str | None, typer.Argument(help="Schedule (default: every schedule).")] = None,
    at: AtOption = None,
    config: ConfigOption = None,
) -> None:
    """Who is on call now, until when, who is next, and the handoff notes of the current shift."""
    runtime = runtime_or_exit(config)
    try:
        names = _schedule_names(runtime, schedule)
        moment = _now(runtime, at)
        with runtime.sessions() as session:
            for name in names:
                state = service.on_call_now(session, runtime.config, moment, name)[0]
                tz = state.timezone
                current = state.current
                line = f"[cyan]{name}[/]: {_who(runtime, current.user if current else None)}"
                if current is not None:
                    line += f" since {_fmt(current.start, tz)} until {_fmt(current.end, tz)} ({tz})"
                    if current.is_override:
                        line += " [yellow](override)[/]"
                console.print(line)
                if state.next is not None:
                    nxt = state.next
                    console.print(f"  next: {_who(runtime, nxt.user)} from {_fmt(nxt.start, tz)}")
                if current is not None:
                    notes = service.notes_for_shift(session, name, current, state.previous, moment)
                    for note in notes:
                        console.print(
                            f"  handoff note from {note.author} ({_fmt(note.created_at, tz)}):",
                            highlight=False,
                        )
                        console.print(f"    {note.text}", markup=False, highlight=False)
    finally:
        runtime.close()


@app.command("show")
def show(
    schedule: Annotated[str | None, typer.Argument(help="Schedule (default: every schedule).")] = None,
    week: Annotated[bool, typer.Option("--week", help="This week and next, from Monday 00:00.")] = False,
    days: Annotated[int, typer.Option("--days", min=1, max=366, help="Days ahead (without --week).")] = 7,
    at: AtOption = None,
    config: ConfigOption = None,
) -> None:
    """A table of the shifts ahead (or of this week and next with --week)."""
    runtime = runtime_or_exit(config)
    try:
        moment = _now(runtime, at)
        with runtime.sessions() as session:
            for name in _schedule_names(runtime, schedule):
                tz = store.get_schedule(runtime.config, name).timezone
                zone = zone_of(tz)
                if week:
                    local = moment.astimezone(zone)
                    monday = (local - timedelta(days=local.weekday())).date()
                    first = datetime.combine(monday, datetime.min.time())
                    start = local_to_utc(first, zone)
                    end = local_to_utc(first + timedelta(days=14), zone)
                else:
                    start, end = moment, moment + timedelta(days=days)
                table = Table(
                    "on call", "from", "until", "for", "", title=f"{name} ({tz})", title_justify="left"
                )
                cursor = start
                for shift in service.schedule_shifts(session, runtime.config, name, start, end):
                    if shift.start > cursor:
                        table.add_row(
                            "[red]nobody[/]",
                            _fmt(cursor, tz),
                            _fmt(shift.start, tz),
                            _hours(shift.start - cursor),
                            "[red]gap[/]",
                        )
                    mark = "override" if shift.is_override else ("now" if shift.contains(moment) else "")
                    table.add_row(
                        _who(runtime, shift.user),
                        _fmt(shift.start, tz),
                        _fmt(shift.end, tz),
                        _hours(shift.end - shift.start),
                        mark,
                    )
                    cursor = shift.end
                if cursor < end:
                    table.add_row(
                        "[red]nobody[/]", _fmt(cursor, tz), _fmt(end, tz), _hours(end - cursor), "[red]gap[/]"
                    )
                console.print(table)
    finally:
        runtime.close()


def _hours(delta: timedelta) -> str:
    return show_span(delta)


@app.command("gaps")
def gaps_cmd(
    schedule: Annotated[str | None, typer.Argument(help="Schedule (default: every schedule).")] = None,
    days: Annotated[int, typer.Option("--days", min=1, max=366, help="How far ahead to look.")] = 14,
    check: Annotated[bool, typer.Option("--check", help="Exit with status 1 if there is a gap.")] = False,
    at: AtOption = None,
    config: ConfigOption = None,
) -> None:
    """Times in the next days when nobody is on call."""
    runtime = runtime_or_exit(config)
    try:
        names = _schedule_names(runtime, schedule)
        moment = _now(runtime, at)
        with runtime.sessions() as session:
            found = [
                g
                for name in names
                for g in service.upcoming_gaps(session, runtime.config, moment, days, name)
            ]
        for gap in found:
            tz = store.get_schedule(runtime.config, gap.schedule).timezone
            console.print(gaps_mod.describe(gap, tz), markup=False, highlight=False)
        if not found:
            console.print(f"no gaps in the next {days} days")
    finally:
        runtime.close()
    if found and check:
        raise typer.Exit(1)


@app.command("ical")
def ical_cmd(
    schedule: Annotated[str | None, typer.Argument(help="Schedule whose feed to write.")] = None,
    user: Annotated[str | None, typer.Option("--user", help="Write this user's feed instead.")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File (default stdout).")] = None,
    at: AtOption = None,
    config: ConfigOption = None,
) -> None:
    """The iCalendar feed of a schedule or of a user (30 days back, 90 days ahead)."""
    from opsbook.oncall import feeds  # the calendar library, for this command only (start-up of the others)

    if (schedule is None) == (user is None):
        raise fail("give a SCHEDULE or --user NAME (one of them)")
    runtime = runtime_or_exit(config)
    try:
        moment = _now(runtime, at)
        with cli_errors(runtime), runtime.sessions() as session:
            if schedule is not None:
                feed = feeds.schedule_feed(session, runtime.config, schedule, moment)
            else:
                feed = feeds.user_feed(session, runtime.config, str(user), moment)
    finally:
        runtime.close()
    if output is not None:
        output.write_bytes(feed)
    else:
        sys.stdout.buffer.write(feed)
        sys.stdout.flush()


@app.command("handoff")
def handoff(
    note: Annotated[str | None, typer.Option("--note", "-m", help="The note for the next person.")] = None,
    schedule: Annotated[str | None, typer.Option("--schedule", "-s", help="Schedule (if several).")] = None,
    author: AuthorOption = None,
    at: AtOption = None,
    config: ConfigOption = None,
) -> None:
    """Leave a handoff note for whoever is on call next (without --note: list recent notes)."""
    if note is None:
        _list_notes(schedule, at, config)
        return
    if at is not None:
        raise fail("--at is for looking at the notes of another moment; a note is kept as of now")
    actor = cli_actor(author)
    runtime = runtime_or_exit(config)
    try:
        # a schedule named is checked by the use case (an unknown one is bad input there)
        names = [schedule] if schedule is not None else _schedule_names(runtime, None)
        if len(names) > 1:
            raise fail(f"say which schedule with --schedule ({', '.join(names)})")
        with cli_errors(runtime):
            row = service.add_handoff_note(runtime, actor, names[0], note)
        with runtime.sessions() as session:
            state = service.on_call_now(session, runtime.config, runtime.clock.now(), names[0])[0]
        nxt = state.next.user if state.next else None
        console.print(
            f"handoff note {row.id} kept for {names[0]}; next on call: {_who(runtime, nxt)}"
            + (f" from {_fmt(state.next.start, state.timezone)}" if state.next else "")
        )
    finally:
        runtime.close()


def _list_notes(schedule: str | None, at: str | None, config: str | None) -> None:
    runtime = runtime_or_exit(config)
    try:
        moment = _now(runtime, at)
        with runtime.sessions() as session:
            rows = service.handoff_notes(session, schedule, until=moment, limit=20)
        if not rows:
            console.print("no handoff notes")
        for row in reversed(rows):
            tz = store.schedule_zone(runtime.config, row.schedule)
            console.print(f"[cyan]{row.schedule}[/] {_fmt(row.created_at, tz)} {row.author}:")
            console.print(f"  {row.note}", markup=False, highlight=False)
    finally:
        runtime.close()


@override_app.command("add")
def override_add(
    schedule: Annotated[str, typer.Argument(help="Schedule to override.")],
    user: Annotated[str, typer.Argument(help="Who is on call instead.")],
    start: Annotated[str, typer.Option("--from", help="Start (now, tomorrow 09:00, ISO 8601).")],
    end: Annotated[str, typer.Option("--to", help="End (+3d, 2026-03-16 09:00, ISO 8601).")],
    covers: Annotated[str | None, typer.Option("--covers", help="Whom USER stands in for (a note).")] = None,
    reason: Annotated[str, typer.Option("--reason", "-m", help="Why.")] = "",
    author: AuthorOption = None,
    config: ConfigOption = None,
) -> None:
    """USER is on call on SCHEDULE from --from to --to, over every layer (times without an offset are read
    in the schedule's time zone)."""
    actor = cli_actor(author)
    runtime = runtime_or_exit(config)
    try:
        tz = store.schedule_zone(runtime.config, schedule)  # the use case refuses an unknown schedule
        with cli_errors(runtime):
            begin, finish = parse_time(start, runtime, "--from", tz), parse_time(end, runtime, "--to", tz)
            row = service.add_override(runtime, actor, schedule, user, begin, finish, covers=covers,
                                       reason=reason)
        console.print(
            f"override {row.id}: {user} on call on {schedule} "
            f"from {_fmt(begin, tz)} to {_fmt(finish, tz)} ({tz})",
            highlight=False,
        )
    finally:
        runtime.close()


@override_app.command("list")
def override_list(
    schedule: Annotated[str | None, typer.Argument(help="Schedule (default: every schedule).")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Include overrides that have ended.")] = False,
    at: AtOption = None,
    config: ConfigOption = None,
) -> None:
    """Current and future overrides (--all: past ones too)."""
    runtime = runtime_or_exit(config)
    try:
        moment = _now(runtime, at)
        with runtime.sessions() as session:
            rows = service.list_overrides(session, schedule, since=None if all_ else moment)
        table = Table("id", "schedule", "on call", "covers", "from", "until", "by", "reason")
        for row in rows:
            tz = store.schedule_zone(runtime.config, row.schedule)
            table.add_row(
                str(row.id),
                row.schedule,
                row.user,
                row.covers or "",
                _fmt(row.start, tz),
                _fmt(row.end, tz),
                row.created_by,
                row.reason,
            )
        console.print(table if rows else "no overrides")
    finally:
        runtime.close()


@override_app.command("remove")
def override_remove(
    override_id: Annotated[int, typer.Argument(help="The override's id (see `override list`).")],
    author: AuthorOption = None,
    config: ConfigOption = None,
) -> None:
    """Delete an override (audit-logged)."""
    actor = cli_actor(author)
    runtime = runtime_or_exit(config)
    try:
        with cli_errors(runtime):
            row = service.remove_override(runtime, actor, override_id)
        console.print(f"override {row.id} removed ({row.user} on {row.schedule})", highlight=False)
    finally:
        runtime.close()
