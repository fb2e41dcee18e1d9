"""The terminal walk of a run: show each step, ask run / skip / abort (done / not done for checklist
items), stream command output live (secrets masked line by line), stop on failure unless told to go on.

State is committed after every step, so a closed terminal loses nothing: `opsbook runbook resume ID`
continues from the first unfinished step.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Mapping
from datetime import datetime
from types import FrameType

from rich.console import Console
from rich.markup import escape
from rich.prompt import Prompt
from rich.syntax import Syntax
from sqlalchemy.orm import Session, sessionmaker

from opsbook.redact import redact
from opsbook.runbooks import placeholders, service
from opsbook.runbooks.document import Procedure, Step
from opsbook.runbooks.service import ConfirmationRequired, RunContext, RunError

KIND_LABEL = {
    "confirm": "checklist",
    "manual": "by hand",
    "shell": "shell",
    "sql": "sql",
    "reference": "reference",
}


class LineRedactor:
    """Prints streamed output a line at a time, with secrets masked (a secret may span two chunks)."""

    def __init__(self, console: Console, secrets: set[str]) -> None:
        self.console = console
        self.secrets = secrets
        self.buffer = ""

    def feed(self, text: str) -> None:
        self.buffer += text
        *lines, self.buffer = self.buffer.split("\n")
        for line in lines:
            self.console.print(
                "  " + redact(line, self.secrets), markup=False, highlight=False, soft_wrap=True
            )

    def flush(self) -> None:
        if self.buffer:
            self.feed("\n")


def describe_step(
    console: Console,
    procedure: Procedure,
    step: Step,
    position: int,
    params: Mapping[str, str],
    reasons: tuple[str, ...] = (),
) -> None:
    total = len(procedure.steps)
    group = f" [dim]({escape(step.group)})[/dim]" if step.group else ""
    console.print(
        f"\n[bold]Step {position + 1}/{total}[/bold] [cyan]{KIND_LABEL[step.kind]}[/cyan]  "
        f"{escape(step.title)}{group}  [dim]name: {escape(step.name)}[/dim]"
    )
    for note in step.notes:
        console.print(f"  [dim]{escape(note)}[/dim]")
    if step.command:
        text = (
            placeholders.fill(step.command, procedure.parameters, params) if step.runnable else step.command
        )
        lexer = (
            "sql" if step.kind == "sql" else ("bash" if step.kind == "shell" else (step.language or "text"))
        )
        console.print(Syntax(text, lexer, theme="ansi_dark", word_wrap=True, background_color="default"))
    if reasons:
        console.print(f"  [bold red]DESTRUCTIVE[/bold red]: {escape(', '.join(reasons))}")


def print_procedure(
    console: Console,
    procedure: Procedure,
    params: Mapping[str, str] | None = None,
    *,
    ref: str = "",
    dry_run: bool = False,
) -> None:
    head = f"[bold]{escape(procedure.display)}[/bold]"
    console.print(
        head
        + (f"  [dim]{escape(ref)}[/dim]" if ref else "")
        + (" [green](auto)[/green]" if procedure.auto else "")
    )
    if procedure.description:
        console.print(f"  {escape(procedure.description)}")
    if procedure.parameters:
        listed = ", ".join(f"{p.name} ({p.kind})" for p in procedure.parameters)
        console.print(f"  parameters: {escape(listed)}")
    for position, step in enumerate(procedure.steps):
        reasons = service.step_reasons(procedure, step, params or {})
        if dry_run:
            describe_step(console, procedure, step, position, params or {}, reasons)
            continue
        flags = []
        if reasons:
            flags.append("destructive: " + ", ".join(reasons))
        if step.auto:
            flags.append("auto")
        if step.timeout:
            flags.append(f"timeout {step.timeout:g}s")
        extra = f"  [red]{escape('; '.join(flags))}[/red]" if flags else ""
        mark = "x" if step.checked else " "
        box = f"[{mark}] " if step.kind == "confirm" else ""
        console.print(
            f"  {position + 1:>2}. [cyan]{KIND_LABEL[step.kind]:<9}[/cyan] {escape(box + step.title)}{extra}"
        )
        if step.runnable:
            for line in step.command.splitlines():
                console.print(f"        [dim]{escape(line)}[/dim]", soft_wrap=True)


def ask_parameters(
    procedure: Procedure,
    given: Mapping[str, str],
    environ: Mapping[str, str],
    now: datetime,
    *,
    interactive: bool,
    console: Console,
) -> tuple[dict[str, str], dict[str, str]]:
    """Values for every parameter: from --param, the environment (for $VARS), else asked for."""
    values = service.normalize_params(procedure, given)
    env = service.env_values(procedure, environ)
    for param in service.missing_parameters(procedure, values, env):
        if not interactive:
            if param.kind == "env":
                continue
            raise RunError(f"parameter {param.name} has no value: pass --param {param.name}=VALUE")
        if param.kind == "env":
            env[param.name] = Prompt.ask(
                f"{param.name} is not set; enter its value (hidden)", password=True, console=console
            )
        else:
            default = placeholders.default_value(param, now)
            answer = Prompt.ask(f"Value for {escape(param.tokens[0])}", default=default, console=console)
            values[param.name] = answer or ""
    return values, env


class _Hangup(Exception):
    pass


def _hangup(signum: int, frame: FrameType | None) -> None:
    raise _Hangup(signal.Signals(signum).name)


def walk(
    sessions: sessionmaker[Session],
    run_id: int,
    *,
    ctx: RunContext,
    env: Mapping[str, str],
    operator: str,
    console: Console,
    keep_going: bool = False,
) -> int:
    """Walk the open steps of a run in the terminal; returns the exit code (0 succeeded, 1 otherwise)."""
    old = {sig: signal.signal(sig, _hangup) for sig in (signal.SIGHUP, signal.SIGTERM)}
    try:
        return _walk(
            sessions, run_id, ctx=ctx, env=env, operator=operator, console=console, keep_going=keep_going
        )
    except (KeyboardInterrupt, _Hangup, EOFError):
        console.print(f"\n[yellow]Interrupted. Resume with: opsbook runbook resume {run_id}[/yellow]")
        return 130
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def _finish(
    sessions: sessionmaker[Session],
    run_id: int,
    ctx: RunContext,
    secrets: set[str],
    console: Console,
    status: str | None = None,
) -> int:
    with sessions.begin() as session:
        entry = service.finish_run(session, run_id, now=ctx.clock.now(), status=status, secrets=secrets)
        final = service.get_run(session, run_id).status
        entry_id = entry.id
    colour = "green" if final == "succeeded" else "red"
    console.print(
        f"\n[bold {colour}]Run {run_id} {final}.[/bold {colour}] Operations log entry #{entry_id} "
        f"(opsbook oplog show {entry_id})."
    )
    if final != "succeeded":
        console.print(f"Resume with: opsbook runbook resume {run_id}")
    return 0 if final == "succeeded" else 1


def _walk(
    sessions: sessionmaker[Session],
    run_id: int,
    *,
    ctx: RunContext,
    env: Mapping[str, str],
    operator: str,
    console: Console,
    keep_going: bool,
) -> int:
    with sessions() as session:
        run = service.get_run(session, run_id)
        procedure = service.procedure_of(run)
        params = dict(run.params)
        keep_going = keep_going or run.keep_going
    secrets = set(ctx.secrets) | set(env.values())
    while True:
        with sessions() as session:
            row = service.next_step(service.steps_of(session, run_id))
            position = row.position if row is not None else -1
            previous = row.status if row is not None else ""
        if position < 0:
            return _finish(sessions, run_id, ctx, secrets, console)
        step = procedure.steps[position]
        reasons = service.step_reasons(procedure, step, params)
        describe_step(console, procedure, step, position, params, reasons)
        if previous in ("running", *service.FAILED):
            console.print(f"  [yellow]This step was {previous} when the run stopped.[/yellow]")
        if step.kind == "reference":
            asyncio.run(service.perform(sessions, run_id, position, "done", ctx=ctx, actor=operator, env=env))
            continue
        if step.kind == "confirm":
            answer = Prompt.ask("Done?", choices=["d", "n", "s", "a"], default="d", console=console)
            action = {"d": "done", "n": "not_done", "s": "skip", "a": "abort"}[answer]
        elif step.kind == "manual":
            answer = Prompt.ask("Done?", choices=["d", "s", "a"], default="d", console=console)
            action = {"d": "done", "s": "skip", "a": "abort"}[answer]
        else:
            answer = Prompt.ask("Run this step?", choices=["r", "s", "a"], default="r", console=console)
            action = {"r": "run", "s": "skip", "a": "abort"}[answer]
        if action == "abort":
            return _finish(sessions, run_id, ctx, secrets, console, status="aborted")
        if action != "run":
            asyncio.run(service.perform(sessions, run_id, position, action, ctx=ctx, actor=operator, env=env))
            continue
        confirm: str | None = None
        if reasons:
            confirm = Prompt.ask(
                f"[red]Destructive.[/red] Type the step name [bold]{escape(step.name)}[/bold] to run it",
                default="",
                show_default=False,
                console=console,
            )
            if confirm.strip() != step.name:
                console.print("[yellow]Not confirmed: the step was not run.[/yellow]")
                continue
        printer = LineRedactor(console, secrets)
        try:
            result = asyncio.run(
                service.perform(
                    sessions,
                    run_id,
                    position,
                    "run",
                    ctx=ctx,
                    actor=operator,
                    env=env,
                    confirm_name=confirm,
                    on_output=printer.feed,
                )
            )
        except ConfirmationRequired as exc:
            console.print(f"[yellow]{escape(str(exc))}[/yellow]")
            continue
        finally:
            printer.flush()
        took = f"{result.duration_s:.2f}s" if result.duration_s is not None else "?"
        if result.status == "succeeded":
            console.print(f"  [green]ok[/green] (exit 0, {took})")
            continue
        console.print(f"  [red]{result.status}[/red]: {escape(result.message)} ({took})")
        if keep_going:
            asyncio.run(
                service.perform(sessions, run_id, position, "continue", ctx=ctx, actor=operator, env=env)
            )
            continue
        answer = Prompt.ask(
            "Step failed: [r]etry, [c]ontinue, [s]top?", choices=["r", "c", "s"], default="s", console=console
        )
        if answer == "c":
            asyncio.run(
                service.perform(sessions, run_id, position, "continue", ctx=ctx, actor=operator, env=env)
            )
        elif answer == "s":
            return _finish(sessions, run_id, ctx, secrets, console, status="failed")
