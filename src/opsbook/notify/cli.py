"""`opsbook notify test CHANNEL | list [--status failed] | channels | retry ID`.

Channel URLs are never printed: channels show as name, service and a masked target; subjects and errors
are shown through `notify.shown` (secrets and acknowledgement links masked). `test` records a test
message in the outbox and delivers it at once (exit 1 if it fails).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from opsbook.cli.common import (
    AuthorOption,
    ConfigOption,
    cli_actor,
    cli_errors,
    console,
    err_console,
    fail,
    runtime_or_exit,
)
from opsbook.notify import outbox
from opsbook.notify.apprise_send import describe_url
from opsbook.notify.channel_test import send_test
from opsbook.notify.models import STATUSES
from opsbook.notify.service import retry_notification
from opsbook.notify.shown import shown_by
from opsbook.runtime import Runtime
from opsbook.timefmt import show_time

app = typer.Typer(no_args_is_help=True, help="Notifications: channels, the outbox and its delivery attempts.")


def _fmt(t: datetime | None, runtime: Runtime) -> str:
    return "" if t is None else show_time(t, runtime.config.timezone, seconds=True)


@app.command("test")
def notify_test(
    channel: Annotated[str, typer.Argument(help="A channel name from opsbook.yaml.")],
    config: ConfigOption = None,
) -> None:
    """Send a test message to CHANNEL now and say whether it was accepted."""
    runtime = runtime_or_exit(config)
    mask = shown_by(runtime)
    try:
        with cli_errors(runtime):
            row_id, outcome = asyncio.run(send_test(runtime, channel))
        if outcome.ok:
            console.print(
                f"sent: test message {row_id} accepted by {channel} in {outcome.duration_ms:.0f} ms",
                markup=False,
                highlight=False,
            )
            return
        err_console.print(f"failed: {channel}: {mask(outcome.error)}", markup=False, highlight=False)
        raise typer.Exit(1)
    finally:
        runtime.close()


@app.command("list")
def notify_list(
    status: Annotated[str | None, typer.Option("--status", help=f"One of {', '.join(STATUSES)}.")] = None,
    channel: Annotated[str | None, typer.Option("--channel", help="Only this channel.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many, newest first.")] = 20,
    config: ConfigOption = None,
) -> None:
    """Outbox rows, newest first, each with its delivery attempts."""
    if status is not None and status not in STATUSES:
        raise fail(f"--status: use one of {', '.join(STATUSES)}")
    runtime = runtime_or_exit(config)
    mask = shown_by(runtime)
    try:
        with runtime.sessions() as session:
            rows = outbox.list_rows(session, status=status, channel=channel, limit=limit)
            if not rows:
                console.print("no notifications" + (f" with status {status}" if status else ""))
                return
            table = Table("id", "created", "channel", "kind", "status", "tries", "next / sent", "subject")
            lines: list[str] = []
            for row in rows:
                waiting = row.next_attempt_at if row.status == "pending" else None
                table.add_row(
                    str(row.id),
                    _fmt(row.created_at, runtime),
                    row.channel,
                    row.kind,
                    row.status,
                    str(len(row.attempt_rows)),
                    _fmt(row.sent_at or waiting, runtime),
                    mask(row.subject),
                )
                for attempt in row.attempt_rows:
                    verdict = "ok" if attempt.ok else "failed"
                    took = f"{attempt.duration_ms:7.0f} ms"
                    line = f"{row.id:>6}  {_fmt(attempt.ts, runtime)}  {verdict:<6} {took}"
                    lines.append(line + (f"  {mask(attempt.error)}" if attempt.error else ""))
        console.print(table)
        if lines:
            console.print("attempts:", markup=False, highlight=False)
            for line in lines:
                console.print(line, markup=False, highlight=False, soft_wrap=True)
    finally:
        runtime.close()


@app.command("channels")
def notify_channels(config: ConfigOption = None) -> None:
    """The configured channels (targets masked)."""
    runtime = runtime_or_exit(config)
    mask = shown_by(runtime)
    try:
        if not runtime.config.channels:
            console.print("no channels configured")
            return
        table = Table("name", "target", "rate limit", "description")
        for c in runtime.config.channels:
            table.add_row(
                c.name, mask(describe_url(c.url, c.secrets())), str(c.rate_limit or ""), c.description
            )
        console.print(table)
    finally:
        runtime.close()


@app.command("retry")
def notify_retry(
    notification_id: Annotated[int, typer.Argument(help="The id shown by `opsbook notify list`.")],
    author: AuthorOption = None,
    config: ConfigOption = None,
) -> None:
    """Send a failed notification again (a running worker picks it up), with a fresh retry budget."""
    actor = cli_actor(author)
    runtime = runtime_or_exit(config)
    try:
        with cli_errors(runtime):
            retry_notification(runtime, actor, notification_id)
        console.print(f"notification {notification_id} will be sent again")
    finally:
        runtime.close()
