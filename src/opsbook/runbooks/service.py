"""Runbook runs as use cases: start a run, take a step (run, skip, done, not done, go past a failure),
finish, abort, resume, and run a procedure unattended (remediation).

Each use case checks the role it needs (responder), owns its transaction, writes its audit row and emits a
`DomainEvent(Topic.RUNS, ...)`; the API, the terminal walk, the web UI and the pipeline call them, so a run
started anywhere is recorded the same way and can be resumed anywhere (the next step is the first one not
yet handled). Running a command step takes two transactions: the step is marked running and committed
before the command starts, its outcome is recorded when it ends. The step that leaves nothing to do closes
the run and writes its operations log entry. Every command and output stored is redacted (the config's
secrets and the values of the `$VARS` the procedure uses).

Procedures are looked up in the current catalog (`catalog.current_catalog`): an edited runbook is used by
the next run, without a restart.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from opsbook.auth.roles import SYSTEM, Principal, Role
from opsbook.events import DomainEvent, Topic
from opsbook.oplog.models import OplogEntryRow
from opsbook.runbooks import records
from opsbook.runbooks.catalog import Catalog, Found, current_catalog
from opsbook.runbooks.config import RunbooksSettings
from opsbook.runbooks.document import Procedure, Step
from opsbook.runbooks.errors import ConfirmationRequired, NotAutomatable, RunError, RunInputError, RunNotFound
from opsbook.runbooks.masking import StreamMask, written_secrets
from opsbook.runbooks.models import RunRow, RunStepRow
from opsbook.runbooks.params import (
    env_values,
    filled_command,
    normalize_params,
    require_complete,
    step_reasons,
)
from opsbook.runbooks.records import FAILED, get_run, list_runs, next_step, procedure_of, steps_of
from opsbook.runbooks.run_log import close_run
from opsbook.runbooks.session import SessionState, advance
from opsbook.runbooks.steps import (
    ACTIONS,
    RunContext,
    StepResult,
    automatable,
    execute,
    marked_status,
    may_run_unattended,
)
from opsbook.runbooks.text import shorten
from opsbook.runtime import Runtime
from opsbook.usecase import Tx, transaction
from opsbook.words import unnumbered

__all__ = [
    "RunNotFound", "RunState", "StepTaken", "abort_run", "automatable", "catalog_for", "find_procedure",
    "finish_run", "first_steps", "get_run", "list_runs", "procedure_link", "procedure_of", "procedure_path",
    "resume_run", "run_unattended", "start_run", "steps_of", "take_step",
]


@dataclass(frozen=True)
class RunState:
    """A run and its steps as a use case left them; `oplog_entry` once the run is closed by that call."""

    run: RunRow
    steps: list[RunStepRow]
    oplog_entry: int | None = None


@dataclass(frozen=True)
class StepTaken:
    """A step's result and the run after it; `held`: the secret variables the step set, which the caller
    keeps and passes back in `env` (they are never stored: see session.py)."""

    result: StepResult
    state: RunState
    held: Mapping[str, str] = field(default_factory=dict)


def catalog_for(settings: RunbooksSettings, config_path: str) -> Catalog:
    """The current catalog of the runbook folders, relative to the directory of opsbook.yaml."""
    return current_catalog(settings, Path(config_path).resolve().parent)


def find_procedure(runtime: Runtime, name: str) -> Found:
    """The procedure called `name` in the current catalog (ProcedureNotFound lists close matches)."""
    return catalog_for(runtime.config.runbooks, runtime.loaded.path).resolve(name)


def _context(runtime: Runtime, cwd: str | None = None) -> RunContext:
    return RunContext(
        settings=runtime.config.runbooks,
        clock=runtime.clock,
        secrets=runtime.loaded.all_secrets(),
        environ=dict(os.environ),
        cwd=cwd,
    )


def _env(procedure: Procedure, env: Mapping[str, str] | None) -> dict[str, str]:
    """The procedure's `$VARS`: as given (the terminal asks for unset ones), else from the environment."""
    return dict(env) if env is not None else env_values(procedure, os.environ)


def _secrets(runtime: Runtime, env: Mapping[str, str]) -> set[str]:
    return runtime.loaded.all_secrets() | set(env.values())


def _subject(run_id: int) -> str:
    return f"run:{run_id}"


# --- starting ----------------------------------------------------------------------------------------


def start_run(
    runtime: Runtime,
    actor: Principal,
    found: Found,
    *,
    params: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
    incident_id: str | int | None = None,
    reason: str = "",
    impact: str = "",
    follow_up: str = "",
    keep_going: bool = False,
) -> RunState:
    """Record a new run of `found` by `actor`, every placeholder given a value (RunInputError otherwise)."""
    env_map = _env(found.procedure, env)
    with transaction(runtime, actor, needs=Role.RESPONDER) as tx:
        run = _record_start(
            tx, runtime, found, params or {}, env_map, incident_id=incident_id, reason=reason,
            impact=impact, follow_up=follow_up, keep_going=keep_going,
        )
        return RunState(run, steps_of(tx.session, run.id))


def _record_start(
    tx: Tx,
    runtime: Runtime,
    found: Found,
    params: Mapping[str, str],
    env: Mapping[str, str],
    *,
    incident_id: str | int | None,
    reason: str,
    impact: str = "",
    follow_up: str = "",
    keep_going: bool = False,
    unattended: bool = False,
) -> RunRow:
    values = normalize_params(found.procedure, params)
    require_complete(found.procedure, values, env)
    incident = None if incident_id is None else str(incident_id)
    run = records.new_run(
        tx.session, found, now=tx.now, operator=tx.actor.name, params=values, incident_id=incident,
        reason=reason.strip(), impact=impact, follow_up=follow_up, unattended=unattended,
        keep_going=keep_going, secrets=_secrets(runtime, env),
    )
    tx.audit("runbook.run.start", found.ref, run_id=run.id, incident_id=incident)
    detail = {"procedure": found.ref, "incident": incident}
    tx.emit(DomainEvent(Topic.RUNS, "started", _subject(run.id), detail))
    return run


# --- steps -------------------------------------------------------------------------------------------


async def take_step(
    runtime: Runtime,
    actor: Principal,
    run_id: int,
    position: int,
    action: str,
    *,
    confirm: str | None = None,
    env: Mapping[str, str] | None = None,
    on_output: Callable[[str], None] | None = None,
    on_start: Callable[[int], None] | None = None,
    cwd: str | None = None,
) -> StepTaken:
    """Take `action` (run, skip, done, not_done, continue) on one step of a running run, and record it.

    A destructive step runs only when `confirm` is its name (ConfirmationRequired otherwise). A command's
    output is streamed to `on_output` a line at a time, secrets masked (also those the command writes out);
    `on_start` gets the process id of a shell step. Shell steps run in the run's session (see session.py).
    """
    with transaction(runtime, actor, needs=Role.RESPONDER) as tx:
        if action not in ACTIONS:
            raise RunInputError(f"unknown action {action!r}; use {', '.join(ACTIONS)} or abort")
        run = get_run(tx.session, run_id)
        step, row = records.open_step(tx.session, run, position, action)
        procedure = procedure_of(run)
        env_map = _env(procedure, env)
        if action == "continue":
            records.go_past(row)
        elif action != "run":
            records.mark(row, marked_status(step, action), tx.now, actor.name)
        if action != "run":
            return StepTaken(StepResult(position, step.name, row.status),
                             _stepped(tx, runtime, run, position, action, env_map))
        if not step.runnable:
            raise RunInputError(f"step {position + 1} ({step.name}) is a {step.kind} step: it is not run")
        reasons = step_reasons(procedure, step, run.params)
        if reasons and (confirm or "").strip() != step.name:
            raise ConfirmationRequired(step, reasons)
        records.mark_running(row, tx.now, actor.name)
        command = filled_command(procedure, _unmasked(runtime, run, position, step), run.params)
        terminal = SessionState.from_record(run.session_state)
    ctx = _context(runtime, terminal.cwd or cwd)
    before = terminal.environment({**ctx.environ, **env_map}, env_map)
    written = written_secrets(command)
    masked = _secrets(runtime, env_map) | written
    stream = StreamMask(on_output, masked) if on_output is not None else None
    try:
        sink = stream.feed if stream is not None else on_output
        outcome, dump = await execute(step, command, ctx, before, sink, on_start)
    finally:
        if stream is not None:
            stream.flush()
    terminal, held = advance(terminal, before, dump, runtime.loaded.all_secrets() | written)
    with transaction(runtime, actor) as tx:
        run = get_run(tx.session, run_id)
        run.session_state = terminal.to_record()
        row = records.step_row(tx.session, run_id, position)
        records.record_outcome(row, outcome, masked | set(held.values()))
        result = StepResult(
            position, step.name, row.status, row.exit_code, row.output, row.duration_s, row.note
        )
        state = _stepped(tx, runtime, run, position, action, {**env_map, **held}, row.exit_code)
        return StepTaken(result, state, held)


def _unmasked(runtime: Runtime, run: RunRow, position: int, step: Step) -> Step:
    """The step to run: the run's copy, or the runbook's own when the copy has a secret masked."""
    if not records.is_masked(run, position):
        return step
    return records.real_command(run, position, find_procedure(runtime, run.procedure_ref).procedure)


def _stepped(
    tx: Tx,
    runtime: Runtime,
    run: RunRow,
    position: int,
    action: str,
    env: Mapping[str, str],
    exit_code: int | None = None,
) -> RunState:
    """Audit and announce a step handled; close the run when it left nothing to do."""
    steps = steps_of(tx.session, run.id)
    status = steps[position].status
    subject = _subject(run.id)
    tx.audit(f"runbook.step.{action}", subject, step=position + 1, status=status, exit_code=exit_code)
    tx.emit(DomainEvent(Topic.RUNS, "stepped", subject, {"position": position, "status": status}))
    if next_step(steps) is not None:
        return RunState(run, steps)
    entry = _close(tx, runtime, run, steps, env, status=None)
    return RunState(run, steps, entry.id)


def _close(
    tx: Tx, runtime: Runtime, run: RunRow, steps: list[RunStepRow], env: Mapping[str, str], status: str | None
) -> OplogEntryRow:
    entry = close_run(tx.session, run, steps, now=tx.now, secrets=_secrets(runtime, env), status=status,
                      server=runtime.config.server)
    action = "aborted" if run.status == "aborted" else "finished"
    detail = {"status": run.status, "oplog_entry": entry.id}
    tx.emit(DomainEvent(Topic.RUNS, action, _subject(run.id), detail))
    return entry


# --- finishing, aborting, resuming -------------------------------------------------------------------


def finish_run(
    runtime: Runtime, actor: Principal, run_id: int, *, env: Mapping[str, str] | None = None
) -> RunState:
    """Close a running run now (failed if a step failed, else succeeded) and write its oplog entry."""
    return _stop(runtime, actor, run_id, env, None, "runbook.run.finish")


def abort_run(
    runtime: Runtime, actor: Principal, run_id: int, *, env: Mapping[str, str] | None = None
) -> RunState:
    """Stop a running run with the steps left undone; it can be resumed later."""
    return _stop(runtime, actor, run_id, env, "aborted", "runbook.run.abort")


def _stop(
    runtime: Runtime,
    actor: Principal,
    run_id: int,
    env: Mapping[str, str] | None,
    status: str | None,
    audit_action: str,
) -> RunState:
    with transaction(runtime, actor, needs=Role.RESPONDER) as tx:
        run = get_run(tx.session, run_id)
        if run.status != "running":
            raise RunError(f"run {run_id} is {run.status}")
        steps = steps_of(tx.session, run_id)
        entry = _close(tx, runtime, run, steps, _env(procedure_of(run), env), status)
        tx.audit(audit_action, _subject(run_id), status=run.status, oplog_entry=entry.id)
        return RunState(run, steps, entry.id)


def resume_run(runtime: Runtime, actor: Principal, run_id: int) -> RunState:
    """Make a stopped run (failed, aborted, or left running) resumable from its first open step."""
    with transaction(runtime, actor, needs=Role.RESPONDER) as tx:
        run = records.reopen(tx.session, run_id)
        tx.audit("runbook.run.resume", _subject(run_id))
        tx.emit(DomainEvent(Topic.RUNS, "resumed", _subject(run_id)))
        return RunState(run, steps_of(tx.session, run_id))


# --- unattended --------------------------------------------------------------------------------------


async def run_unattended(
    runtime: Runtime,
    found: Found,
    *,
    params: Mapping[str, str] | None = None,
    incident_id: str | int | None = None,
    reason: str = "",
) -> int:
    """Run a procedure as opsbook itself (automated remediation), in the config's directory; returns the run.

    Raises NotAutomatable when nothing in it is marked `auto: true`. Steps that are not allowed to run
    unattended are refused (recorded as such, never run); a failed step stops the run.
    """
    procedure = found.procedure
    if not automatable(procedure):
        raise NotAutomatable(f"{procedure.display!r} has no step marked auto: it is never run unattended")
    env = env_values(procedure, os.environ)
    cwd = str(Path(runtime.loaded.path).resolve().parent)
    with transaction(runtime, SYSTEM) as tx:
        run_id = _record_start(
            tx, runtime, found, params or {}, env, incident_id=incident_id, reason=reason, unattended=True
        ).id
    for position, step in enumerate(procedure.steps):
        if step.kind == "reference":
            await take_step(runtime, SYSTEM, run_id, position, "done", env=env, cwd=cwd)
        elif may_run_unattended(procedure, step):
            taken = await take_step(
                runtime, SYSTEM, run_id, position, "run", confirm=step.name, env=env, cwd=cwd
            )
            env.update(taken.held)
            if taken.result.status in FAILED:
                break
        else:
            _refuse(runtime, run_id, position)
    with transaction(runtime, SYSTEM) as tx:
        run = get_run(tx.session, run_id)
        if run.status == "running":  # a failed step stopped it, or its last step was refused
            _close(tx, runtime, run, steps_of(tx.session, run_id), env, status=None)
    return run_id


def _refuse(runtime: Runtime, run_id: int, position: int) -> None:
    with transaction(runtime, SYSTEM) as tx:
        row = records.step_row(tx.session, run_id, position)
        records.mark(row, "refused", tx.now, SYSTEM.name, note="needs an operator: not marked auto")
        detail = {"position": position, "status": row.status}
        tx.emit(DomainEvent(Topic.RUNS, "stepped", _subject(run_id), detail))


# --- for notifications -------------------------------------------------------------------------------


STEP_CHARS = 100
"""A step in a notification is cut to this many characters (a page is read on a phone)."""


def first_steps(procedure: Procedure, count: int = 3, limit: int = STEP_CHARS) -> list[str]:
    """The first `count` actionable steps as one-line texts of at most `limit` characters (a command's first
    line after its title), for a notification that links its runbook."""
    out: list[str] = []
    for step in procedure.steps:
        if not step.actionable:
            continue
        text = unnumbered(step.title)  # the message numbers the steps itself
        if step.runnable and step.command and step.command.splitlines()[0] != step.title:
            text += f": {step.command.splitlines()[0]}"
        out.append(shorten(text, limit))
        if len(out) == count:
            break
    return out


def procedure_path(found: Found) -> str:
    """The web UI page of a procedure (its steps, commands, parameters and runs)."""
    return f"/ui/procedures/{found.ref}"


def procedure_link(found: Found, base_url: str) -> str:
    """The web UI page of a procedure as a link for messages."""
    return base_url.rstrip("/") + procedure_path(found)
