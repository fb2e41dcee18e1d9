"""`opsbook serve` (API, UI, scheduler and notifier in one process) and `opsbook db upgrade`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
import uvicorn

from opsbook.auth.passwords import ensure_first_admin_password
from opsbook.auth.tokens import ensure_admin_token
from opsbook.cli.common import ConfigOption, console, fail, runtime_or_exit
from opsbook.locations.cli import NEEDS_POSTGRES_FOR_LOCATION, LocationOption, location_notes
from opsbook.logs import setup_logging
from opsbook.redact import redact

if TYPE_CHECKING:
    from opsbook.runtime import Runtime


def serve(
    config: ConfigOption = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    workers: Annotated[bool, typer.Option(
        "--workers/--no-workers",
        help="--no-workers: only the API, UI and status page; `opsbook worker` processes run the checks "
        "(PostgreSQL).",
    )] = True,
    name: Annotated[str | None, typer.Option(
        help="How this process is shown in `opsbook cluster status` (default serve@HOST:PID)."
    )] = None,
    location: LocationOption = None,
) -> None:
    """Run opsbook: checks, API, UI and status page, until stopped."""
    runtime = runtime_or_exit(config)
    if not workers and runtime.engine.dialect.name != "postgresql":
        runtime.close()
        raise fail("--no-workers needs PostgreSQL and `opsbook worker` processes: on SQLite one `opsbook "
                   "serve` runs everything")
    if location and runtime.engine.dialect.name != "postgresql":
        runtime.close()
        raise fail(NEEDS_POSTGRES_FOR_LOCATION)
    setup_logging(runtime.redact)
    from opsbook.cluster.identity import ProcessIdentity
    from opsbook.web.app import create_app

    admins = [u.name for u in runtime.config.users if u.role == "admin"]
    with runtime.sessions.begin() as session:
        token = ensure_admin_token(session, runtime.clock.now())
        first_login = ensure_first_admin_password(session, admins, runtime.clock.now())
    if first_login:
        console.print(
            f"[bold yellow]First start: web login for '{first_login[0]}' (change it with "
            f"`opsbook user set-password {first_login[0]}`), shown only this once:[/]"
        )
        console.print(f"  {first_login[1]}", markup=False, highlight=False)
    elif not admins:
        console.print(
            "No admin user in the config: add one under `users:` (role: admin) to sign in to the UI."
        )
    if token:
        console.print(
            "[bold yellow]First start: an admin API token was created. It is shown only this once:[/]"
        )
        console.print(f"  {token}", markup=False, highlight=False)
        console.print("  (use it as 'Authorization: Bearer <token>'; make more with `opsbook token create`)")
    checks = runtime.config.checks()
    db = runtime.engine.url.render_as_string(hide_password=True)
    console.print(f"opsbook: {len(runtime.config.services)} services, {len(checks)} checks, database {db}")
    _warn_of_missing_runbooks(runtime)
    for line in location_notes(checks, location if workers else None,
                               clustered=runtime.engine.dialect.name == "postgresql", runs_checks=workers):
        console.print(line, markup=False, highlight=False)
    if not workers:
        console.print("serving the API, UI and status page only: `opsbook worker` processes run the checks")
    console.print(f"opsbook is serving at [bold]http://{host}:{port}[/] (API docs at /docs)")
    proxies = runtime.config.server.trusted_proxies
    uvicorn.run(
        create_app(runtime, identity=ProcessIdentity.for_serve(workers, name, location)), host=host,
        port=port,
        log_config=None, access_log=False, proxy_headers=bool(proxies),
        forwarded_allow_ips=",".join(proxies) or None,
    )


def _warn_of_missing_runbooks(runtime: Runtime) -> None:
    """What `opsbook validate` says of the runbooks the config names, as warnings: serving goes on (the
    runbook files may be fixed while it runs), and messages name such a runbook without a link."""
    from pathlib import Path

    from opsbook.runbooks.references import reference_issues

    try:
        text = Path(runtime.loaded.path).read_text(encoding="utf-8")
    except OSError:
        return
    for issue in reference_issues(runtime.loaded, text):
        console.print(f"warning: {issue}", markup=False, highlight=False)


db_app = typer.Typer(help="The database: migrations.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(config: ConfigOption = None) -> None:
    """Apply every pending migration (serve does this at start too)."""
    runtime = runtime_or_exit(config)
    console.print(
        f"database {redact(str(runtime.engine.url.render_as_string(hide_password=True)))} is at head"
    )
