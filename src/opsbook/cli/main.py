"""The `opsbook` command: assembles every domain's command group."""

from __future__ import annotations

import typer

from opsbook.alerts import cli as alerts_cli
from opsbook.auth import audit_cli, users_cli
from opsbook.auth.cli import app as token_app
from opsbook.checks.cli import app as check_app
from opsbook.checks.cli import status
from opsbook.cli import config_cmds
from opsbook.cli.serve import db_app, serve
from opsbook.incidents import cli as incidents_cli
from opsbook.notify import cli as notify_cli
from opsbook.oncall import cli as oncall_cli
from opsbook.oplog import cli as oplog_cli
from opsbook.runbooks import cli as runbooks_cli
from opsbook.silences import cli as silences_cli

app = typer.Typer(no_args_is_help=True, help="opsbook: your OPERATIONS.md, running.", add_completion=False)
app.command()(serve)
app.command()(status)
config_cmds.register(app)
app.add_typer(db_app, name="db")
app.add_typer(token_app, name="token")
app.add_typer(check_app, name="check")

# --- command groups of each domain (one add_typer line each) ---
app.add_typer(silences_cli.app, name="silence")
app.add_typer(silences_cli.maintenance_app, name="maintenance")
app.add_typer(notify_cli.app, name="notify")
app.add_typer(oncall_cli.app, name="oncall")
app.add_typer(runbooks_cli.app, name="runbook")
app.add_typer(oplog_cli.app, name="oplog")
app.add_typer(alerts_cli.app, name="alert")
app.add_typer(incidents_cli.app, name="incident")
app.add_typer(incidents_cli.report_app, name="report")
app.add_typer(users_cli.app, name="user")
app.add_typer(audit_cli.app, name="audit")
# --- end of command groups ---
