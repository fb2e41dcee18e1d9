"""`opsbook silence add|list|expire` and `opsbook maintenance list|add|cancel`.

Times are read by `opsbook.timefmt` (`now`, `+2h`, `in 2 hours`, `tomorrow 09:00`, ISO 8601; without an
offset on the wall clock of the team's `timezone:`) and shown there with the zone.
Changes are the use cases of `opsbook.silences.service`, as from the API and the web UI; who acts is
`--as`/`--author`, else $OPSBOOK_USER, else the login name (`cli_actor`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
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
    parse_length,
    parse_time,
    runtime_or_exit,
)
from opsbook.runtime import Runtime
from opsbook.silences import service, store
from opsbook.silences.matchers import parse_matcher
from opsbook.silences.store import STATES, SilenceState
from opsbook.timefmt import show_time

app = typer.Typer(no_args_is_help=True, help="Silence alerts: mute their notifications for a while.")
maintenance_app = typer.Typer(no_args_is_help=True, help="Maintenance windows: one-off and recurring.")


def _until(
    runtime: Runtime, until: str | None, duration: str | None
) -> tuple[datetime | None, timedelta | None]:
    """(ends_at, duration) from --until or --duration, whichever was given (one must be)."""
    if (until is None) == (duration is None):
        raise fail("give exactly one of --duration (e.g. 2h) and --until (e.g. +2h, 18:00 or an ISO time)")
    if duration is not None:
        return None, parse_length(duration, "--duration")
    return parse_time(str(until), runtime, "--until"), None


def _fmt(t: datetime, runtime: Runtime) -> str:
    return show_time(t, runtime.config.timezone)


@app.command("add")
def silence_add(
    matchers: Annotated[list[str], typer.Argument(help="NAME=VALUE, NAME!=VALUE, NAME=~REGEX, NAME!~REGEX")],
    comment: Annotated[str, typer.Option("--comment", "-m", help="Why (required).")] = "",
    duration: Annotated[str | None, typer.Option("--duration", "-d", help="How long, e.g. 2h.")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Until when (+2h, 18:00, ISO 8601).")] = None,
    start: Annotated[str | None, typer.Option("--start", help="From when (+1h, 22:00; default now).")] = None,
    author: AuthorOption = None,
    config: ConfigOption = None,
) -> None:
    """Mute notifications of alerts matching every MATCHER, e.g. service=api severity=~"P[23]"."""
    actor = cli_actor(author)
    with cli_errors():
        parsed = [parse_matcher(m) for m in matchers]
    runtime = runtime_or_exit(config)
    try:
        with cli_errors(runtime):
            begin = parse_time(start, runtime, "--start") if start else None
            end, length = _until(runtime, until, duration)
            row = service.add_silence(runtime, actor, parsed, comment=comment, starts_at=begin, ends_at=end,
                                      duration=length)
        state = store.silence_state(row, runtime.clock.now())
        console.print(
            f"silence {row.id} {state} until {_fmt(row.ends_at, runtime)}: "
            + " ".join(str(m) for m in parsed),
            markup=False,
            highlight=False,
        )
    finally:
        runtime.close()


@app.command("list")
def silence_list(
    state: Annotated[
        str | None, typer.Option("--state", help="active, pending or expired (default: active and pending).")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """List silences."""
    by_name: dict[str, SilenceState] = {s: s for s in STATES}
    if state is not None and state not in by_name:
        raise fail(f"--state: use one of {', '.join(STATES)}")
    wanted: list[SilenceState] = [by_name[state]] if state is not None else ["active", "pending"]
    runtime = runtime_or_exit(config)
    try:
        now = runtime.clock.now()
        with runtime.sessions() as session:
            rows = [row for one in wanted for row in store.list_silences(session, now, one)]
            table = Table("id", "state", "matchers", "starts", "ends", "by", "comment")
            for row in rows:
                text = " ".join(str(m) for m in store.to_silence(row).matchers)
                end = row.ends_at if row.expired_at is None else min(row.ends_at, row.expired_at)
                table.add_row(
                    str(row.id),
                    store.silence_state(row, now),
                    text,
                    _fmt(row.starts_at, runtime),
                    _fmt(end, runtime),
                    row.created_by,
                    row.comment,
                )
        if rows:
            console.print(table)
        else:
            console.print("no silences")
    finally:
        runtime.close()


@app.command("expire")
def silence_expire(
    silence_id: Annotated[int, typer.Argument(help="The silence's id (see `opsbook silence list`).")],
    author: AuthorOption = None,
    config: ConfigOption = None,
) -> None:
    """End a silence now; alerts it muted that still fire will notify."""
    actor = cli_actor(author)
    runtime = runtime_or_exit(config)
    try:
        with cli_errors(runtime):
            service.expire_silence(runtime, actor, silence_id)
        console.print(f"silence {silence_id} expired")
    finally:
        runtime.close()


@maintenance_app.command("list")
def maintenance_list(
    days: Annotated[float, typer.Option("--days", help="How far ahead to look.")] = 14,
    config: ConfigOption = None,
) -> None:
    """Maintenance in progress or coming up: one-off windows and occurrences of recurring ones."""
    runtime = runtime_or_exit(config)
    try:
        now = runtime.clock.now()
        with runtime.sessions() as session:
            found = service.upcoming_maintenance(
                session, now, runtime.config.maintenance_windows, timedelta(days=days),
                services=runtime.config.services,
            )
        table = Table("ref", "when", "until", "services", "title")
        for m in found:
            when = "now" if m.in_progress else _fmt(m.starts_at, runtime)
            table.add_row(m.ref, when, _fmt(m.ends_at, runtime), ", ".join(m.services), m.title)
        if found:
            console.print(table)
        else:
            console.print(f"no maintenance in the next {days:g} days")
    finally:
        runtime.close()


@maintenance_app.command("add")
def maintenance_add(
    services: Annotated[list[str], typer.Option("--service", "-s", help="A service (repeat for several).")],
    start: Annotated[str, typer.Option("--start", help="From when (now, +1h, tomorrow 02:00, ISO 8601).")],
    title: Annotated[str, typer.Option("--title", help="Shown on the status page.")],
    duration: Annotated[str | None, typer.Option("--duration", "-d", help="How long, e.g. 2h.")] = None,
    until: Annotated[str | None, typer.Option("--until", "--end", help="Until when (+2h, 04:00).")] = None,
    description: Annotated[str, typer.Option("--description", help="Details for the status page.")] = "",
    author: AuthorOption = None,
    config: ConfigOption = None,
) -> None:
    """Schedule a one-off maintenance window: alerts of its services are muted while it lasts."""
    actor = cli_actor(author)
    runtime = runtime_or_exit(config)
    try:
        with cli_errors(runtime):
            begin = parse_time(start, runtime, "--start")
            end, length = _until(runtime, until, duration)
            row = service.add_maintenance(runtime, actor, services, starts_at=begin, title=title, ends_at=end,
                                          duration=length, description=description)
        console.print(
            f"maintenance #{row.id} {_fmt(begin, runtime)} to {_fmt(row.ends_at, runtime)}: {row.title}",
            markup=False,
            highlight=False,
        )
    finally:
        runtime.close()


@maintenance_app.command("cancel")
def maintenance_cancel(
    window_id: Annotated[int, typer.Argument(help="The one-off window's number (#N in `maintenance list`).")],
    author: AuthorOption = None,
    config: ConfigOption = None,
) -> None:
    """Cancel a one-off maintenance window (one in progress ends now)."""
    actor = cli_actor(author)
    runtime = runtime_or_exit(config)
    try:
        with cli_errors(runtime):
            service.remove_maintenance(runtime, actor, window_id)
        console.print(f"maintenance #{window_id} cancelled")
    finally:
        runtime.close()
