"""`opsbook runbook import|list|show|run|resume|runs`: Markdown runbooks, walked in the terminal."""

from __future__ import annotations

import getpass
import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from opsbook.auth import audit
from opsbook.auth.roles import Principal, Role
from opsbook.cli.common import ConfigOption, console, err_console, runtime_or_exit
from opsbook.runbooks import service
from opsbook.runbooks.catalog import Found, ProcedureNotFound
from opsbook.runbooks.interactive import ask_parameters, print_procedure, walk
from opsbook.runbooks.parse import parse_runbook
from opsbook.runbooks.service import RunContext, RunError
from opsbook.runtime import Runtime

app = typer.Typer(help="Runbooks: Markdown procedures, run step by step.", no_args_is_help=True)

ParamOption = Annotated[
    list[str] | None,
    typer.Option("--param", "-p", help="A parameter value, NAME=VALUE (name as listed, or its placeholder)."),
]


def _operator() -> str:
    return os.environ.get("OPSBOOK_OPERATOR") or getpass.getuser()


def _parse_params(pairs: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            err_console.print(f"--param {pair!r}: use NAME=VALUE")
            raise typer.Exit(2)
        out[key.strip()] = value
    return out


def _context(runtime: Runtime) -> RunContext:
    return RunContext(
        settings=runtime.config.runbooks,
        clock=runtime.clock,
        secrets=runtime.loaded.all_secrets(),
        environ=dict(os.environ),
    )


def _find(runtime: Runtime, name: str) -> Found:
    catalog = service.catalog_for(runtime.config.runbooks, runtime.loaded.path)
    for problem in catalog.errors:
        err_console.print(f"warning: {problem}", markup=False)
    try:
        return catalog.resolve(name)
    except ProcedureNotFound as exc:
        err_console.print(str(exc), markup=False, highlight=False)
        raise typer.Exit(2) from None


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="A Markdown runbook.", exists=True, dir_okay=False)],
    as_json: Annotated[bool, typer.Option("--json", help="Print the structure as JSON.")] = False,
) -> None:
    """Read a Markdown runbook and print the procedures found, with their steps and parameters."""
    runbook = parse_runbook(file.read_text(encoding="utf-8", errors="replace"), str(file))
    if as_json:
        typer.echo(json.dumps(runbook.to_dict(), indent=2, ensure_ascii=False))
        return
    console.print(
        f"[bold]{escape(runbook.title or str(file))}[/bold]: {len(runbook.procedures)} procedure(s)"
    )
    for procedure in runbook.procedures:
        console.print()
        print_procedure(console, procedure)


@app.command("list")
def list_(
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Every procedure in the configured runbook folders."""
    runtime = runtime_or_exit(config)
    catalog = service.catalog_for(runtime.config.runbooks, runtime.loaded.path)
    for problem in catalog.errors:
        err_console.print(f"warning: {problem}", markup=False)
    found = catalog.all()
    if as_json:
        rows = [
            {
                "ref": f.ref,
                "procedure": f.procedure.display,
                "runbook": f.entry.path,
                "steps": len(f.procedure.steps),
                "parameters": [p.name for p in f.procedure.parameters],
                "auto": f.procedure.auto,
            }
            for f in found
        ]
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    table = Table("procedure", "ref", "steps", "parameters", "auto")
    for f in found:
        table.add_row(
            escape(f.procedure.display),
            f.ref,
            str(len(f.procedure.steps)),
            escape(", ".join(p.name for p in f.procedure.parameters)),
            "yes" if f.procedure.auto else "",
        )
    console.print(table)


@app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="Procedure name, path or ref.")],
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """One procedure: its steps, commands and parameters."""
    runtime = runtime_or_exit(config)
    found = _find(runtime, name)
    if as_json:
        typer.echo(
            json.dumps(
                found.procedure.to_dict() | {"ref": found.ref, "runbook": found.entry.path},
                indent=2,
                ensure_ascii=False,
            )
        )
        return
    console.print(f"[dim]{escape(found.entry.path)}:{found.procedure.line}[/dim]")
    print_procedure(console, found.procedure, ref=found.ref)


@app.command("run")
def run(
    name: Annotated[str | None, typer.Argument(help="Procedure name, path or ref.")] = None,
    param: ParamOption = None,
    incident: Annotated[str | None, typer.Option("--incident", help="Incident this run is for.")] = None,
    reason: Annotated[str, typer.Option(help="Why (oplog 'Reason').")] = "",
    impact: Annotated[str, typer.Option(help="Service behaviour before/after (oplog 'Impact').")] = "",
    follow_up: Annotated[str, typer.Option("--follow-up", help="What to do next (oplog 'Follow-up').")] = "",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print every step filled in; run nothing.")
    ] = False,
    keep_going: Annotated[bool, typer.Option("--keep-going", help="Go on after a failed step.")] = False,
    resume: Annotated[int | None, typer.Option("--resume", help="Resume this run instead.")] = None,
    config: ConfigOption = None,
) -> None:
    """Walk a procedure's steps in the terminal: run / skip / abort each, output live, state saved."""
    if resume is not None:
        _resume(resume, config, keep_going)
        return
    if not name:
        err_console.print("give a procedure name (or --resume RUN_ID)")
        raise typer.Exit(2)
    runtime = runtime_or_exit(config)
    found = _find(runtime, name)
    ctx = _context(runtime)
    interactive = sys.stdin.isatty()
    try:
        values, env = ask_parameters(
            found.procedure,
            _parse_params(param),
            ctx.environ,
            runtime.clock.now(),
            interactive=interactive and not dry_run,
            console=console,
        )
    except RunError as exc:
        err_console.print(str(exc), markup=False)
        raise typer.Exit(2) from None
    if dry_run:
        console.print("[bold yellow]Dry run: nothing is executed.[/bold yellow]")
        print_procedure(console, found.procedure, values, ref=found.ref, dry_run=True)
        for p in found.procedure.parameters:
            if p.kind == "env":
                state = "set" if p.name in env else "NOT SET"
                console.print(f"  ${p.name}: {state} in the environment (value never shown)")
        return
    operator = _operator()
    secrets = ctx.secrets | set(env.values())
    with runtime.sessions.begin() as session:
        row = service.start_run(
            session,
            found,
            now=runtime.clock.now(),
            operator=operator,
            params=values,
            incident_id=incident,
            reason=reason,
            impact=impact,
            follow_up=follow_up,
            keep_going=keep_going,
            secrets=secrets,
        )
        audit.record(
            session,
            runtime.clock.now(),
            Principal(operator, Role.RESPONDER, "cli"),
            "runbook.run.start",
            found.ref,
            run_id=row.id,
            incident_id=incident,
        )
        run_id = row.id
    console.print(
        f"[bold]Run {run_id}[/bold]: {escape(found.procedure.display)} ({len(found.procedure.steps)} steps)"
    )
    code = walk(
        runtime.sessions, run_id, ctx=ctx, env=env, operator=operator, console=console, keep_going=keep_going
    )
    raise typer.Exit(code)


def _resume(run_id: int, config: str | None, keep_going: bool) -> None:
    runtime = runtime_or_exit(config)
    ctx = _context(runtime)
    try:
        with runtime.sessions.begin() as session:
            row = service.reopen(session, run_id)
            procedure = service.procedure_of(row)
            title = row.procedure_title
            params = dict(row.params)
    except RunError as exc:
        err_console.print(str(exc), markup=False)
        raise typer.Exit(2) from None
    _, env = ask_parameters(
        procedure, params, ctx.environ, runtime.clock.now(), interactive=sys.stdin.isatty(), console=console
    )
    console.print(f"[bold]Resuming run {run_id}[/bold]: {escape(title)}")
    code = walk(
        runtime.sessions,
        run_id,
        ctx=ctx,
        env=env,
        operator=_operator(),
        console=console,
        keep_going=keep_going,
    )
    raise typer.Exit(code)


@app.command("resume")
def resume_cmd(
    run_id: Annotated[int, typer.Argument(help="The run to continue.")],
    keep_going: Annotated[bool, typer.Option("--keep-going", help="Go on after a failed step.")] = False,
    config: ConfigOption = None,
) -> None:
    """Continue a run from its first unfinished step (after a closed terminal, a stop or an abort)."""
    _resume(run_id, config, keep_going)


@app.command("runs")
def runs(
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 20,
    config: ConfigOption = None,
) -> None:
    """Recent runs and their state."""
    runtime = runtime_or_exit(config)
    table = Table("id", "procedure", "status", "operator", "incident", "started")
    with runtime.sessions() as session:
        for row in service.list_runs(session, limit=limit):
            table.add_row(
                str(row.id),
                escape(row.procedure_title),
                row.status,
                row.operator,
                row.incident_id or "",
                row.started_at.strftime("%Y-%m-%d %H:%M UTC"),
            )
    console.print(table)
