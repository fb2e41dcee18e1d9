"""`opsbook silence add|list|expire` and `opsbook maintenance list|add|cancel`.

Times are ISO 8601; without an offset they are read in the team's `timezone:` of opsbook.yaml.
The author is `--author`, else $USER; every change is audit-logged like the API's.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from opsbook.cli.common import (
    AuthorOption,
    ConfigOption,
    cli_actor,
    console,
    fail,
    parse_time,
    runtime_or_exit,
)
from opsbook.config.types import parse_duration
from opsbook.runtime import Runtime
from opsbook.silences import service
from opsbook.silences.matchers import MatcherError, parse_matcher
from opsbook.silences.service import STATES, AlreadyEnded, NotFound, SilenceError, SilenceState

app = typer.Typer(no_args_is_help=True, help="Silence alerts: mute their notifications for a while.")
maintenance_app = typer.Typer(no_args_is_help=True, help="Maintenance windows: one-off and recurring.")


def _time(text: str, runtime: Runtime, what: str) -> datetime:
    return parse_time(text, runtime.config.timezone, what)


def _duration(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise fail(f"--duration: {exc}") from None


def _end(runtime: Runtime, start: datetime, until: str | None, duration: str | None) -> datetime:
    if (until is None) == (duration is None):
        raise fail("give exactly one of --duration (e.g. 2h) and --until (an ISO time)")
    return start + _duration(duration) if duration is not None else _time(str(until), runtime, "--until")


def _fmt(t: datetime, runtime: Runtime) -> str:
    return t.astimezone(ZoneInfo(runtime.config.timezone)).strftime("%Y-%m-%d %H:%M %Z")


@app.command("add")
def silence_add(
    matchers: Annotated[list[str], typer.Argument(help="NAME=VALUE, NAME!=VALUE, NAME=~REGEX, NAME!~REGEX")],
    comment: Annotated[str, typer.Option("--comment", "-m", help="Why (required).")] = "",
    duration: Annotated[str | None, typer.Option("--duration", "-d", help="How long, e.g. 2h.")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Until when (ISO 8601).")] = None,
    start: Annotated[str | None, typer.Option("--start", help="From when (ISO 8601; default now).")] = None,
    author: AuthorOption = None,
    config: ConfigOption = None,
) -> None:
    """Mute notifications of alerts matching every MATCHER, e.g. service=api severity=~"P[23]"."""
    actor = cli_actor(author)
    try:
        parsed = [parse_matcher(m) for m in matchers]
    except MatcherError as exc:
        raise fail(str(exc)) from None
    runtime = runtime_or_exit(config)
    try:
        now = runtime.clock.now()
        begin = _time(start, runtime, "--start") if start else now
        end = _end(runtime, begin, until, duration)
        with runtime.sessions.begin() as session:
            row = service.create_silence(
                session, now, actor, parsed, starts_at=begin, ends_at=end, comment=comment
            )
            silence_id, state = row.id, service.silence_state(row, now)
        console.print(
            f"silence {silence_id} {state} until {_fmt(end, runtime)}: " + " ".join(str(m) for m in parsed),
            markup=False,
            highlight=False,
        )
    except SilenceError as exc:
        raise fail(str(exc)) from None
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
            rows = [row for one in wanted for row in service.list_silences(session, now, one)]
            table = Table("id", "state", "matchers", "starts", "ends", "by", "comment")
            for row in rows:
                text = " ".join(str(m) for m in service.to_silence(row).matchers)
                end = row.ends_at if row.expired_at is None else min(row.ends_at, row.expired_at)
                table.add_row(
                    str(row.id),
                    service.silence_state(row, now),
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
        with runtime.sessions.begin() as session:
            service.expire_silence(session, runtime.clock.now(), actor, silence_id)
        console.print(f"silence {silence_id} expired")
    except NotFound as exc:
        raise fail(str(exc), 1) from None
    except AlreadyEnded as exc:
        raise fail(str(exc), 1) from None
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
                session, now, runtime.config.maintenance_windows, timedelta(days=days)
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
    start: Annotated[str, typer.Option("--start", help="From when (ISO 8601).")],
    title: Annotated[str, typer.Option("--title", help="Shown on the status page.")],
    duration: Annotated[str | None, typer.Option("--duration", "-d", help="How long, e.g. 2h.")] = None,
    until: Annotated[str | None, typer.Option("--until", "--end", help="Until when (ISO 8601).")] = None,
    description: Annotated[str, typer.Option("--description", help="Details for the status page.")] = "",
    author: AuthorOption = None,
    config: ConfigOption = None,
) -> None:
    """Schedule a one-off maintenance window: alerts of its services are muted while it lasts."""
    actor = cli_actor(author)
    runtime = runtime_or_exit(config)
    try:
        now = runtime.clock.now()
        begin = _time(start, runtime, "--start")
        end = _end(runtime, begin, until, duration)
        with runtime.sessions.begin() as session:
            row = service.create_maintenance(
                session,
                now,
                actor,
                services,
                starts_at=begin,
                ends_at=end,
                title=title,
                description=description,
                known_services={s.name for s in runtime.config.services},
            )
            window_id = row.id
        console.print(
            f"maintenance #{window_id} {_fmt(begin, runtime)} to {_fmt(end, runtime)}: {title}",
            markup=False,
            highlight=False,
        )
    except SilenceError as exc:
        raise fail(str(exc)) from None
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
        with runtime.sessions.begin() as session:
            service.cancel_maintenance(session, runtime.clock.now(), actor, window_id)
        console.print(f"maintenance #{window_id} cancelled")
    except (NotFound, AlreadyEnded) as exc:
        raise fail(str(exc), 1) from None
    finally:
        runtime.close()
