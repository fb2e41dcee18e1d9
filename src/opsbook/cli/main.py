"""The `opsbook` command: every domain's commands, each module imported only when its command runs.

`opsbook --help` lists the commands from the table below without importing any of them, and
`opsbook incident ack` imports `opsbook.incidents.cli` alone, so a command starts in the time its own
module takes to load. A command's one-line help is written here and in its module;
tests/test_cli.py checks that they agree.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from functools import cache
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

from opsbook.cli.startup import collector_held


@dataclass(frozen=True)
class Entry:
    """Where a command lives: `module:attribute`, a Typer app (a command group) or a function."""

    target: str
    help: str


COMMANDS: dict[str, Entry] = {
    "serve": Entry("opsbook.cli.serve:serve", "Run opsbook: checks, API, UI and status page, until stopped."),
    "worker": Entry(
        "opsbook.cluster.cli:worker",
        "Run checks, rules, notifications and singleton duties, without the web server (PostgreSQL).",
    ),
    "cluster": Entry("opsbook.cluster.cli:app", "The processes sharing this database: workers and servers."),
    "status": Entry(
        "opsbook.checks.status_cli:status",
        "A table of every service and check: state, last latency, uptime over 24 h, 7 d and 30 d.",
    ),
    "validate": Entry(
        "opsbook.cli.config_cmds:validate",
        "Check opsbook.yaml; print every problem as FILE:LINE: field: message.",
    ),
    "schema": Entry(
        "opsbook.cli.config_cmds:schema",
        "Print the JSON Schema of opsbook.yaml (for editors: yaml-language-server).",
    ),
    "init": Entry(
        "opsbook.cli.config_cmds:init",
        "Write a commented starter opsbook.yaml, or a draft read from your OPERATIONS.md (--from).",
    ),
    "doc": Entry(
        "opsbook.docimport.cli:app", "Your operations document and the config: do they still agree?"
    ),
    "db": Entry("opsbook.cli.serve:db_app", "The database: migrations."),
    "token": Entry("opsbook.auth.cli:app", "API tokens."),
    "check": Entry("opsbook.checks.cli:app", "Checks: list them, run one now."),
    "silence": Entry("opsbook.silences.cli:app", "Silence alerts: mute their notifications for a while."),
    "maintenance": Entry(
        "opsbook.silences.cli:maintenance_app", "Maintenance windows: one-off and recurring."
    ),
    "notify": Entry(
        "opsbook.notify.cli:app", "Notifications: channels, the outbox and its delivery attempts."
    ),
    "oncall": Entry("opsbook.oncall.cli:app", "On-call: who is on call, schedules, overrides, handoffs."),
    "runbook": Entry("opsbook.runbooks.cli:app", "Runbooks: Markdown procedures, run step by step."),
    "chore": Entry("opsbook.chores.cli:app", "Recurring chores: what is due, by whom, and by when."),
    "subscribers": Entry(
        "opsbook.subscribers.cli:app", "Status page subscribers: who is told, and how it went."
    ),
    "oplog": Entry("opsbook.oplog.cli:app", "Operations log: what was done, why, and how it went."),
    "backup": Entry("opsbook.backups.cli:app", "Backups: jobs, restore drills, the DR table."),
    "secret": Entry("opsbook.secrets.cli:app", "Secrets: inventory, rotation ages, compromises."),
    "alert": Entry("opsbook.alerts.cli:app", "Alerts: what is firing, pending and recently resolved."),
    "incident": Entry(
        "opsbook.incidents.cli:app", "Incidents: open, acknowledge, update, resolve, post-mortems."
    ),
    "report": Entry("opsbook.incidents.cli:report_app", "Reports over a period."),
    "deploy": Entry(
        "opsbook.deploys.cli:app",
        "Deploys: run, verify and roll back; record changes made elsewhere; freezes.",
    ),
    "user": Entry(
        "opsbook.auth.users_cli:app",
        "Users of the web UI: passwords (users and roles are declared in opsbook.yaml).",
    ),
    "audit": Entry("opsbook.auth.audit_cli:app", "The audit log of every mutating action."),
    "pg": Entry(
        "opsbook.postgres.cli:app", "PostgreSQL: the report, top queries over a window, maintenance."
    ),
    "slo": Entry("opsbook.slo.cli:app", "Service level objectives: SLI, error budget left, burn rate."),
    "capacity": Entry(
        "opsbook.capacity.cli:capacity",
        "The capacity table: current, capacity, utilisation, trend, when each threshold is reached.",
    ),
}


@cache
def load(name: str) -> TyperCommand | TyperGroup:
    """The real command `name`, its module imported now."""
    module, attribute = COMMANDS[name].target.split(":")
    found = getattr(importlib.import_module(module), attribute)
    if isinstance(found, typer.Typer):
        return typer.main.get_group(found)
    single = typer.Typer(add_completion=False)
    single.command(name)(found)
    command = typer.main.get_command(single)
    assert isinstance(command, TyperCommand)
    return command


class LazyCommand(TyperCommand):
    """Stands for a command in `opsbook --help`; the real one is loaded when the command is invoked."""

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any) -> Any:
        with collector_held():  # loading the module and reading the arguments: cli/startup.py
            return load(self.name or "").make_context(info_name, args, parent=parent, **extra)


class LazyGroup(TyperGroup):
    """The root group: every command of COMMANDS, none of them imported until used."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        for name, entry in COMMANDS.items():
            self.add_command(LazyCommand(name, help=entry.help))

    def invoke(self, ctx: Any) -> Any:
        """Every command; a database that cannot be reached is said in one line, not a traceback."""
        try:
            return super().invoke(ctx)
        except Exception as exc:
            said = database_error(exc)
            if said is None:
                raise
            typer.echo(f"error: {said}", err=True)
            raise typer.Exit(1) from None


def database_error(exc: BaseException) -> str | None:
    """What to tell a person when `exc` says the database cannot be used: down, unreachable, refusing this
    user, locked, or not opsbook's (SQLAlchemy's OperationalError or InterfaceError: the driver's own first
    line, which names the host and port but never the password); None for any other error."""
    if "sqlalchemy" not in sys.modules:  # nothing opened a database
        return None
    from sqlalchemy import exc as sa_exc

    if not isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
        return None
    text = str(exc.orig or exc).strip()
    reason = text.splitlines()[0] if text else type(exc).__name__
    return (
        f"the database cannot be used: {reason} (the config's database_url, or OPSBOOK_DATABASE_URL, says "
        "which database that is)"
    )


app = typer.Typer(
    cls=LazyGroup, no_args_is_help=True, help="opsbook: your OPERATIONS.md, running.", add_completion=False
)


@app.callback()
def main() -> None:
    """The root: typer makes a group of an app with a callback (its commands come from COMMANDS)."""
