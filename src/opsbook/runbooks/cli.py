"""`opsbook runbook import|list|show|run|resume|runs`: Markdown runbooks, walked in the terminal.

Who runs is decided as everywhere in the CLI (`--as`, else $OPSBOOK_USER, else the login name); starting,
each step, finishing, aborting and resuming are the use cases of `runbooks.service`.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Column, Table

from opsbook.cli.common import (
    AuthorOption,
    ConfigOption,
    cli_actor,
    cli_errors,
    console,
    err_console,
    fail,
    runtime_or_exit,
    time_column,
)
from opsbook.runbooks import service
from opsbook.runbooks.catalog import Found
from opsbook.runbooks.document import Procedure
from opsbook.runbooks.interactive import ask_parameters, ask_withheld, print_procedure, walk
from opsbook.runbooks.parse import decode, parse_runbook
from opsbook.runbooks.session import SessionState
from opsbook.runtime import Runtime
from opsbook.timefmt import show_time
from opsbook.words import count

app = typer.Typer(help="Runbooks: Markdown procedures, run step by step.", no_args_is_help=True)

ParamOption = Annotated[
    list[str] | None,
    typer.Option("--param", "-p", help="A parameter value, NAME=VALUE (name as listed, or its placeholder)."),
]


def _parse_params(pairs: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise fail(f"--param {pair!r}: use NAME=VALUE")
        out[key.strip()] = value
    return out


def _find(runtime: Runtime, name: str) -> Found:
    for problem in service.catalog_for(runtime.config.runbooks, runtime.loaded.path).errors:
        err_console.print(f"warning: {problem}", markup=False)
    with cli_errors(runtime):
        return service.find_procedure(runtime, name)


NAME_WIDTH = 44
"""At most this wide is the list's name column kept (a longer name wraps)."""
WITH_REFS = 100
"""A terminal this wide or wider shows the list's refs too."""
DETAILED = 50
"""A runbook of more procedures is listed one line per procedure (`--json` has every step)."""


def _summary(procedure: Procedure) -> str:
    steps = len(procedure.steps)
    line = f"{procedure.display}  ({steps} step{'s' if steps != 1 else ''}"
    if procedure.parameters:
        line += "; parameters: " + ", ".join(p.name for p in procedure.parameters)
    return line + ")"


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="A Markdown runbook.", exists=True, dir_okay=False)],
    as_json: Annotated[bool, typer.Option("--json", help="Print the structure as JSON.")] = False,
) -> None:
    """Read a Markdown runbook and print the procedures found, with their steps and parameters.

    Exit 2 for a file that is not UTF-8 (or UTF-16/32 with a byte-order mark) Markdown, 1 when it has no
    procedure."""
    with cli_errors():
        runbook = parse_runbook(decode(file.read_bytes(), str(file)), str(file))
    if not runbook.procedures:
        raise fail(f"no procedures in {file}: a procedure is a heading with steps under it (a checklist, "
                   "a numbered list of actions, a command block)", 1)
    if as_json:
        typer.echo(json.dumps(runbook.to_dict(), indent=2, ensure_ascii=False))
        return
    console.print(
        f"[bold]{escape(runbook.title or str(file))}[/bold]: {count(len(runbook.procedures), 'procedure')}"
    )
    if len(runbook.procedures) > DETAILED:
        typer.echo("\n".join(_summary(p) for p in runbook.procedures))
        return
    for procedure in runbook.procedures:
        console.print()
        print_procedure(console, procedure)


@app.command("list")
def list_(
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Every procedure in the configured runbook folders, by the name `opsbook runbook run` takes (a
    heading over one sub-section with steps by the heading's name, the sub-section's as another name)."""
    runtime = runtime_or_exit(config)
    catalog = service.catalog_for(runtime.config.runbooks, runtime.loaded.path)
    for problem in catalog.errors:
        err_console.print(f"warning: {problem}", markup=False)
    listing = catalog.listing()
    if as_json:
        rows = [
            {
                "name": row.name,
                "also": list(row.also),
                "ref": row.found.ref,
                "procedure": row.found.procedure.display,
                "runbook": row.found.entry.path,
                "steps": len(row.found.procedure.steps),
                "parameters": [p.name for p in row.found.procedure.parameters],
                "auto": row.found.procedure.auto,
            }
            for row in listing
        ]
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    # the names are what people type: kept whole on their lines; below WITH_REFS columns the refs give way
    # (a name that is not unique is shown as its ref already; --json has every ref)
    widest = max((len(name) for row in listing for name in (row.name, *row.also)), default=9)
    refs = console.width >= WITH_REFS
    table = Table(Column("procedure", min_width=min(widest + len("also: "), NAME_WIDTH)),
                  *(["ref"] if refs else []), "steps", "parameters", "auto")
    for row in listing:
        f = row.found
        table.add_row(
            escape(row.name) + "".join(f"\n[dim]also: {escape(name)}[/dim]" for name in row.also),
            *([f.ref] if refs else []),
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
    author: AuthorOption = None,
    config: ConfigOption = None,
) -> None:
    """Walk a procedure's steps in the terminal: run / skip / abort each, output live, state saved."""
    if resume is not None:
        _resume(resume, config, keep_going, author)
        return
    if not name:
        raise fail("give a procedure name (or --resume RUN_ID)")
    runtime = runtime_or_exit(config)
    found = _find(runtime, name)
    with cli_errors(runtime):
        values, env = ask_parameters(
            found.procedure,
            _parse_params(param),
            os.environ,
            runtime.clock.now(),
            interactive=sys.stdin.isatty() and not dry_run,
            console=console,
        )
    if dry_run:
        console.print("[bold yellow]Dry run: nothing is executed.[/bold yellow]")
        print_procedure(console, found.procedure, values, ref=found.ref, dry_run=True)
        for p in found.procedure.parameters:
            if p.kind == "env":
                state = "set" if p.name in env else "NOT SET"
                console.print(f"  ${p.name}: {state} in the environment (value never shown)")
        return
    actor = cli_actor(author)
    with cli_errors(runtime):
        started = service.start_run(
            runtime,
            actor,
            found,
            params=values,
            env=env,
            incident_id=incident,
            reason=reason,
            impact=impact,
            follow_up=follow_up,
            keep_going=keep_going,
        )
    run_id = started.run.id
    console.print(
        f"[bold]Run {run_id}[/bold]: {escape(found.procedure.display)} ({len(found.procedure.steps)} steps)"
    )
    with cli_errors(runtime):
        code = walk(runtime, actor, run_id, env=env, console=console, keep_going=keep_going)
    raise typer.Exit(code)


def _resume(run_id: int, config: str | None, keep_going: bool, author: str | None) -> None:
    runtime = runtime_or_exit(config)
    actor = cli_actor(author)
    with cli_errors(runtime):
        state = service.resume_run(runtime, actor, run_id)
        _, env = ask_parameters(
            service.procedure_of(state.run),
            dict(state.run.params),
            os.environ,
            runtime.clock.now(),
            interactive=sys.stdin.isatty(),
            console=console,
        )
        withheld = SessionState.from_record(state.run.session_state).withheld
        env |= ask_withheld(withheld, os.environ, interactive=sys.stdin.isatty(), console=console)
    console.print(f"[bold]Resuming run {run_id}[/bold]: {escape(state.run.procedure_title)}")
    with cli_errors(runtime):
        code = walk(runtime, actor, run_id, env=env, console=console, keep_going=keep_going)
    raise typer.Exit(code)


@app.command("resume")
def resume_cmd(
    run_id: Annotated[int, typer.Argument(help="The run to continue.")],
    keep_going: Annotated[bool, typer.Option("--keep-going", help="Go on after a failed step.")] = False,
    author: AuthorOption = None,
    config: ConfigOption = None,
) -> None:
    """Continue a run from its first unfinished step (after a closed terminal, a stop or an abort)."""
    _resume(run_id, config, keep_going, author)


@app.command("runs")
def runs(
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 20,
    config: ConfigOption = None,
) -> None:
    """Recent runs and their state."""
    runtime = runtime_or_exit(config)
    table = Table("id", "procedure", "status", "operator", "incident", time_column("started"))
    with runtime.sessions() as session:
        for row in service.list_runs(session, limit=limit):
            table.add_row(
                str(row.id),
                escape(row.procedure_title),
                row.status,
                row.operator,
                row.incident_id or "",
                show_time(row.started_at, runtime.config.timezone),
            )
    console.print(table)
