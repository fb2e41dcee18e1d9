"""What an action does to one step: the status a checklist, manual or reference step gets, which steps may
run unattended, and running a command step (shell or SQL) with the run's settings, clock and secrets."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from opsbook.clock import Clock
from opsbook.redact import child_environment
from opsbook.runbooks import executor, session
from opsbook.runbooks.config import RunbooksSettings
from opsbook.runbooks.document import Procedure, Step
from opsbook.runbooks.errors import RunInputError

ACTIONS = ("run", "skip", "done", "not_done", "continue")


@dataclass
class RunContext:
    """What running steps needs besides the database: settings, the clock, secrets and the environment."""

    settings: RunbooksSettings
    clock: Clock
    secrets: set[str] = field(default_factory=set)
    environ: Mapping[str, str] = field(default_factory=child_environment)  # + the procedure's $VARS
    cwd: str | None = None


@dataclass(frozen=True)
class StepResult:
    position: int
    name: str
    status: str
    exit_code: int | None = None
    output: str = ""
    duration_s: float | None = None
    message: str = ""


def marked_status(step: Step, action: str) -> str:
    """The status `action` (skip, done, not_done) gives a step that is not run."""
    if action == "skip":
        return "skipped"
    if action == "done":
        if step.kind == "reference":
            return "shown"
        if step.kind in ("confirm", "manual"):
            return "done"
        raise RunInputError(f"step {step.name!r} is a command: run it or skip it")
    if action == "not_done":
        if step.kind in ("confirm", "manual"):
            return "not_done"
        raise RunInputError(f"only checklist and manual steps can be marked not done, not {step.name!r}")
    raise RunInputError(f"unknown action {action!r}; use {', '.join(ACTIONS)} or abort")


def may_run_unattended(procedure: Procedure, step: Step) -> bool:
    """Only command steps of a procedure marked auto, or steps marked auto themselves; never `confirm=true`
    steps, and a destructive step only when it is marked auto itself."""
    if not step.runnable or step.confirm or not (step.auto or procedure.auto):
        return False
    return step.auto or not step.destructive


def automatable(procedure: Procedure) -> bool:
    """Whether opsbook may run anything of `procedure` by itself (remediation)."""
    return any(may_run_unattended(procedure, step) for step in procedure.steps)


Dump = tuple[str, dict[str, str]] | None
"""The folder and environment a shell step ended with (None for SQL steps and killed shells)."""


async def execute(
    step: Step,
    command: str,
    ctx: RunContext,
    env: Mapping[str, str],
    on_output: Callable[[str], None] | None,
    on_start: Callable[[int], None] | None,
) -> tuple[executor.Outcome, Dump]:
    """Run a command step (its command filled in): shell steps in `ctx.cwd` with `env` (the run's session
    over the environment) and what they leave for the next step, SQL steps against the database the step
    names."""
    settings = ctx.settings
    timeout = step.timeout or settings.default_timeout.total_seconds()
    sink = on_output or (lambda _text: None)
    if step.kind == "sql":
        target = settings.database_for(step.database)
        if target is None:
            now = ctx.clock.now()
            wanted = f"database {step.database!r}" if step.database else "a database"
            message = f"no {wanted} for SQL steps: declare it under runbooks.databases (or default_database)"
            sink(message + "\n")
            return executor.Outcome("failed", None, message + "\n", now, now, message), None
        outcome = await executor.run_sql(
            command,
            target[1],
            clock=ctx.clock,
            timeout=timeout,
            on_output=sink,
            output_limit=settings.output_limit,
        )
        return outcome, None
    with tempfile.TemporaryDirectory(prefix="opsbook-step-") as folder:  # mode 0700: the dump is private
        state_file = os.path.join(folder, "state")
        outcome = await executor.run_shell(
            session.wrap(command, state_file),
            clock=ctx.clock,
            timeout=timeout,
            shell=settings.shell,
            env=env,
            on_output=sink,
            on_start=on_start,
            output_limit=settings.output_limit,
            kill_grace=settings.kill_grace.total_seconds(),
            cwd=ctx.cwd,
        )
        dump = Path(state_file).read_bytes() if os.path.exists(state_file) else b""
    return outcome, session.read_dump(dump)
