"""`opsbook status`: every service and check in a table that fits the terminal.

Service, check and state are always shown whole. The other columns join in the order a responder needs
them (since, 24 h uptime, latency, 7 d, 30 d) while they fit; the last message gets the width left over,
and when too little is left, the messages of checks that are not up are printed under the table instead,
wrapped, so the reason a check is down is never cut away. It only reads: it never runs a check (so it
loads no probe) and never makes a database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from rich.table import Table

from opsbook.checks import store
from opsbook.checks.uptime import Uptime, uptime_many
from opsbook.cli.common import ConfigOption, console, runtime_or_exit
from opsbook.locations.views import located_views
from opsbook.statuspage.figures import uptime_text


def status(config: ConfigOption = None) -> None:
    """A table of every service and check: state, last latency, uptime over 24 h, 7 d and 30 d."""
    runtime = runtime_or_exit(config, create=False)
    checks = runtime.config.checks()
    now = runtime.clock.now()
    with runtime.sessions() as session:
        states = store.states(session, checks)
        periods = {d: uptime_many(session, list(checks), now - timedelta(days=d), now) for d in (1, 7, 30)}
        views = located_views(session, checks, checks, now)  # checks probed from several locations
    rows = []
    for check_id in checks:
        service, _, check = check_id.partition("/")
        row = states.get(check_id)
        up_24h, up_7d, up_30d = (_percent(periods[d][check_id]) for d in (1, 7, 30))
        view = views.get(check_id)
        message = row.last_message if row and row.last_message else ""
        rows.append(
            StatusRow(
                service=service,
                check=check,
                status=row.status if row else None,
                since=format_elapsed(now - row.since) if row and row.since else "",
                latency=f"{row.last_latency_ms:.0f} ms" if row and row.last_latency_ms is not None else "-",
                uptime_24h=up_24h,
                uptime_7d=up_7d,
                uptime_30d=up_30d,
                message=runtime.redact(view.summary if view else message).splitlines()[0][:200]
                if view or message
                else "",
                disagrees=bool(view and view.disagreeing),
            )
        )
    table, notes = status_view(rows, console.width)
    if table is not None:
        console.print(table)
    for note in notes:
        console.print(note, markup=False, highlight=False)


def _percent(up: Uptime) -> str:
    """As the status page says it: 99.98%, never 100% with downtime; "-" with nothing known."""
    return uptime_text(up.up_seconds, up.known_seconds) if up.known_seconds else "-"



STYLE = {"up": "green", "degraded": "yellow", "down": "bold red"}
MIN_MESSAGE = 24
"""Fewer columns than this left for the message column: the messages go under the table."""


@dataclass(frozen=True)
class StatusRow:
    service: str
    check: str
    status: str | None
    since: str
    latency: str
    uptime_24h: str
    uptime_7d: str
    uptime_30d: str
    message: str
    disagrees: bool = False  # probed from several locations, some not agreeing ("down from ap only")

    @property
    def state(self) -> str:
        return self.status or "no data"


OPTIONAL = (
    ("since", "since"),
    ("24 h", "uptime_24h"),
    ("latency", "latency"),
    ("7 d", "uptime_7d"),
    ("30 d", "uptime_30d"),
)
"""The columns after service, check and state: header and field, in the order they are given room."""


def format_elapsed(elapsed: timedelta) -> str:
    """How long, to the two largest units: '42s', '7m03s', '2h05m', '3d04h'."""
    seconds = max(0, int(elapsed.total_seconds()))
    for big, big_size, small, small_size in (
        ("d", 86400, "h", 3600),
        ("h", 3600, "m", 60),
        ("m", 60, "s", 1),
    ):
        if seconds >= big_size:
            return f"{seconds // big_size}{big}{seconds % big_size // small_size:02d}{small}"
    return f"{seconds}s"


def styled(status: str | None) -> str:
    return f"[{STYLE[status]}]{status}[/]" if status in STYLE else "[dim]no data[/]"


def status_view(rows: list[StatusRow], width: int) -> tuple[Table | None, list[str]]:
    """The table for a terminal `width` columns wide and the plain lines to print under it; no table when
    not even service, check and state fit side by side (then a line per check)."""
    columns = [("service", "service"), ("check", "check"), ("state", "state")]
    used = _width(rows, columns)
    if used > width:
        return None, [
            f"{r.service}/{r.check}: {r.state}" + (f": {r.message}" if r.message else "") for r in rows
        ]
    for column in OPTIONAL:
        more = _width(rows, [column]) - 1  # the table's edge is counted once
        if used + more <= width:
            columns.append(column)
            used += more
    left = width - used - 3
    messages = [row for row in rows if row.message]
    in_table = bool(messages) and left >= MIN_MESSAGE
    table = Table()
    for header, _ in columns:
        table.add_column(header, no_wrap=True)
    if in_table:
        table.add_column("message", no_wrap=True, overflow="ellipsis", max_width=left)
    for row in rows:
        cells = [styled(row.status) if field == "state" else getattr(row, field) for _, field in columns]
        table.add_row(*cells, *([row.message] if in_table else []))
    notes = [] if in_table else [f"{r.service}/{r.check}: {r.message}" for r in messages
                                 if r.status != "up" or r.disagrees]
    return table, notes


def _width(rows: list[StatusRow], columns: list[tuple[str, str]]) -> int:
    """Columns wide a table of these columns is (with its borders and padding)."""
    total = 1
    for header, field in columns:
        cells = [len(row.state if field == "state" else getattr(row, field)) for row in rows]
        total += max([len(header), *cells]) + 3
    return total
