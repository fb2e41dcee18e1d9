"""The terminal walk of a run: show each step, ask run / skip / abort (done / not done for checklist
items), stream command output live (secrets masked line by line), stop on failure unless told to go on.

Every answer is a use case of `runbooks.service` (take a step, finish, abort) acting as the person at the
terminal, so state is committed after every step and a closed terminal loses nothing: `opsbook runbook
resume ID` continues from the first unfinished step.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Mapping
from datetime import datetime
from types import FrameType
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.prompt import Prompt
from rich.syntax import Syntax

from opsbook.auth.roles import Principal
from opsbook.redact import redact
from opsbook.runbooks import params as parameters
from opsbook.runbooks import placeholders, service
from opsbook.runbooks.commands import opsbook_command
from opsbook.runbooks.document import Procedure, Step
from opsbook.runbooks.errors import ConfirmationRequired, RunInputError
from opsbook.runbooks.masking import mask_command
from opsbook.runbooks.records import FAILED, next_step, procedure_of
from opsbook.runbooks.service import RunState, StepTaken
from opsbook.runtime import Runtime
from opsbook.words import unnumbered

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
        f"{escape(unnumbered(step.title))}{group}  [dim]name: {escape(step.name)}[/dim]"
    )
    for note in step.notes:
        console.print(f"  [dim]{escape(note)}[/dim]")
    if step.command:
        text = mask_command(
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
        reasons = parameters.step_reasons(procedure, step, params or {})
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
        title = escape(box + unnumbered(step.title))
        console.print(f"  {position + 1:>2}. [cyan]{KIND_LABEL[step.kind]:<9}[/cyan] {title}{extra}")
        if step.runnable:
            for line in mask_command(step.command).splitlines():
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
    values = parameters.normalize_params(procedure, given)
    env = parameters.env_values(procedure, environ)
    for param in parameters.missing_parameters(procedure, values, env):
        if not interactive:
            if param.kind == "env":
                continue
            raise RunInputError(f"parameter {param.name} has no value: pass --param {param.name}=VALUE")
        if param.kind == "env":
            env[param.name] = Prompt.ask(
                f"{param.name} is not set; enter its value (hidden)", password=True, console=console
            )
        else:
            default = placeholders.default_value(param, now)
            answer = Prompt.ask(f"Value for {escape(param.tokens[0])}", default=default, console=console)
            values[param.name] = answer or ""
    return values, env


def ask_withheld(
    names: tuple[str, ...], environ: Mapping[str, str], *, interactive: bool, console: Console
) -> dict[str, str]:
    """Values for the secret variables earlier steps of a resumed run set (runs never store them): asked
    for (hidden) at a terminal, else taken from the environment when set there."""
    values: dict[str, str] = {}
    for name in names:
        if interactive:
            values[name] = Prompt.ask(
                f"{name} was set by an earlier step and is not kept with the run; enter its value (hidden)",
                password=True,
                console=console,
            )
        elif name in environ:
            values[name] = environ[name]
    return values


class _Hangup(Exception):
    pass


def _hangup(signum: int, frame: FrameType | None) -> None:
    raise _Hangup(signal.Signals(signum).name)


def walk(
    runtime: Runtime,
    actor: Principal,
    run_id: int,
    *,
    env: Mapping[str, str],
    console: Console,
    keep_going: bool = False,
) -> int:
    """Walk the open steps of a run in the terminal; returns the exit code (0 succeeded, 1 otherwise)."""
    old = {sig: signal.signal(sig, _hangup) for sig in (signal.SIGHUP, signal.SIGTERM)}
    try:
        state = _Walk(runtime, actor, run_id, env, console, keep_going).until_closed()
    except (KeyboardInterrupt, _Hangup, EOFError):
        resume = escape(opsbook_command(runtime.config.server, "runbook", "resume", run_id))
        console.print(f"\n[yellow]Interrupted. Resume with: {resume}[/yellow]")
        return 130
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
    return _report(console, state, runtime)


def _report(console: Console, state: RunState, runtime: Runtime) -> int:
    run = state.run
    colour = "green" if run.status == "succeeded" else "red"
    entry = state.oplog_entry
    console.print(
        f"\n[bold {colour}]Run {run.id} {run.status}.[/bold {colour}] Operations log entry #{entry} "
        f"({escape(opsbook_command(runtime.config.server, 'oplog', 'show', str(entry)))})."
    )
    if run.status != "succeeded":
        console.print(f"Resume with: {opsbook_command(runtime.config.server, 'runbook', 'resume', run.id)}",
                      markup=False, highlight=False)
    return 0 if run.status == "succeeded" else 1


class _Walk:
    """One terminal walk of a run: asks about each open step and hands the answer to the use cases."""

    def __init__(
        self,
        runtime: Runtime,
        actor: Principal,
        run_id: int,
        env: Mapping[str, str],
        console: Console,
        keep_going: bool,
    ) -> None:
        self.runtime, self.actor, self.run_id, self.env, self.console = runtime, actor, run_id, env, console
        with runtime.sessions() as session:
            run = service.get_run(session, run_id)
            self.procedure = procedure_of(run)
            self.params = dict(run.params)
            self.keep_going = keep_going or run.keep_going
        self.secrets = runtime.loaded.all_secrets() | set(env.values())

    def until_closed(self) -> RunState:
        while True:
            with self.runtime.sessions() as session:
                row = next_step(service.steps_of(session, self.run_id))
                position, previous = (row.position, row.status) if row is not None else (-1, "")
            if position < 0:
                return service.finish_run(self.runtime, self.actor, self.run_id, env=self.env)
            closed = self.step(position, previous)
            if closed is not None:
                return closed

    def take(self, position: int, action: str, **kw: Any) -> StepTaken:
        taken = asyncio.run(
            service.take_step(self.runtime, self.actor, self.run_id, position, action, env=self.env, **kw)
        )
        if taken.held:  # secret variables the step set: kept for the next steps, never stored
            self.env = {**self.env, **taken.held}
            self.secrets |= set(taken.held.values())
        return taken

    def step(self, position: int, previous: str) -> RunState | None:
        """Ask about one step and do it; the run's final state when this closed it."""
        step = self.procedure.steps[position]
        reasons = parameters.step_reasons(self.procedure, step, self.params)
        describe_step(self.console, self.procedure, step, position, self.params, reasons)
        if previous in ("running", *FAILED):
            self.console.print(f"  [yellow]This step was {previous} when the run stopped.[/yellow]")
        if step.kind == "reference":
            return _closed(self.take(position, "done"))
        action = self.ask(step)
        if action == "abort":
            return service.abort_run(self.runtime, self.actor, self.run_id, env=self.env)
        if action != "run":
            return _closed(self.take(position, action))
        return self.run_command(step, position, reasons)

    def ask(self, step: Step) -> str:
        if step.kind == "confirm":
            answer = Prompt.ask("Done?", choices=["d", "n", "s", "a"], default="d", console=self.console)
            return {"d": "done", "n": "not_done", "s": "skip", "a": "abort"}[answer]
        if step.kind == "manual":
            answer = Prompt.ask("Done?", choices=["d", "s", "a"], default="d", console=self.console)
            return {"d": "done", "s": "skip", "a": "abort"}[answer]
        answer = Prompt.ask("Run this step?", choices=["r", "s", "a"], default="r", console=self.console)
        return {"r": "run", "s": "skip", "a": "abort"}[answer]

    def run_command(self, step: Step, position: int, reasons: tuple[str, ...]) -> RunState | None:
        confirm: str | None = None
        if reasons:
            confirm = Prompt.ask(
                f"[red]Destructive.[/red] Type the step name [bold]{escape(step.name)}[/bold] to run it",
                default="",
                show_default=False,
                console=self.console,
            )
            if confirm.strip() != step.name:
                self.console.print("[yellow]Not confirmed: the step was not run.[/yellow]")
                return None
        printer = LineRedactor(self.console, self.secrets)
        try:
            taken = self.take(position, "run", confirm=confirm, on_output=printer.feed)
        except ConfirmationRequired as exc:
            self.console.print(f"[yellow]{escape(str(exc))}[/yellow]")
            return None
        finally:
            printer.flush()
        result = taken.result
        took = f"{result.duration_s:.2f}s" if result.duration_s is not None else "?"
        if result.status == "succeeded":
            self.console.print(f"  [green]ok[/green] (exit 0, {took})")
            return _closed(taken)
        self.console.print(f"  [red]{result.status}[/red]: {escape(result.message)} ({took})")
        if self.keep_going:
            return _closed(self.take(position, "continue"))
        answer = Prompt.ask(
            "Step failed: [r]etry, [c]ontinue, [s]top?",
            choices=["r", "c", "s"],
            default="s",
            console=self.console,
        )
        if answer == "c":
            return _closed(self.take(position, "continue"))
        if answer == "s":
            return service.finish_run(self.runtime, self.actor, self.run_id, env=self.env)
        return None


def _closed(taken: StepTaken) -> RunState | None:
    """The run's state if this step closed it (nothing left to do), else None: walk on."""
    return taken.state if taken.state.oplog_entry is not None else None
