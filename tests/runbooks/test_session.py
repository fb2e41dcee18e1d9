"""A run is one terminal session, through real runs (real shell subprocesses, SQLite and PostgreSQL):
variables a step exports or sets and the folder it changes to carry to the next steps, also across an
abort and `resume`; a variable an earlier step sets is not a parameter; secrets written in commands are
masked in the run's record, the operations log and the streamed output, and never stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine

from opsbook.auth.roles import Principal, Role
from opsbook.clock import SystemClock
from opsbook.oplog import service as oplog
from opsbook.runbooks import service
from opsbook.runbooks.errors import RunError
from opsbook.runbooks.models import RunRow
from opsbook.runbooks.session import SessionState
from opsbook.runtime import Runtime
from tests.support import make_runtime

PASSWORD = "hunter2-very-secret"
RUNBOOK = f"""\
# Session runbook

## Deploy from a folder

```bash
# Set the region and go to the release folder
export FOO=hello; REGION=eu-west-1; cd <dir>

# Say where we are
echo "$FOO $REGION in $(pwd)"

# Log in to the database
export DB_PASSWORD='{PASSWORD}'; unset FOO

# Use the password
test "$DB_PASSWORD" = '{PASSWORD}' && echo "pw=$DB_PASSWORD foo=${{FOO:-unset}} in $(pwd)"
```
"""
ALICE = Principal("alice", Role.RESPONDER, "test")


@pytest.fixture
def runtime(engine: Engine, tmp_path: Path) -> Runtime:
    books = tmp_path / "books"
    books.mkdir()
    (books / "session.md").write_text(RUNBOOK, encoding="utf-8")
    config = f"runbooks:\n  folders: [{json.dumps(str(books))}]\n  default_timeout: 30s\n"
    return make_runtime(engine, SystemClock(), config)


def _start(runtime: Runtime, folder: Path) -> int:
    found = service.find_procedure(runtime, "deploy from a folder")
    state = service.start_run(runtime, ALICE, found, params={"<dir>": str(folder)}, env={})
    return state.run.id


async def _run(runtime: Runtime, run_id: int, position: int, env: dict[str, str]) -> service.StepTaken:
    return await service.take_step(runtime, ALICE, run_id, position, "run", env=env)


def _run_row(runtime: Runtime, run_id: int) -> tuple[RunRow, list[str]]:
    with runtime.sessions() as session:
        run = service.get_run(session, run_id)
        session.expunge(run)
        return run, [s.command for s in service.steps_of(session, run_id)]


def test_a_variable_an_earlier_step_sets_is_not_a_parameter(runtime: Runtime) -> None:
    procedure = service.find_procedure(runtime, "deploy from a folder").procedure
    assert [(p.name, p.kind) for p in procedure.parameters] == [("dir", "text")]


async def test_exports_and_cd_carry_and_secrets_are_masked(runtime: Runtime, tmp_path: Path) -> None:
    release = tmp_path / "release"
    release.mkdir()
    run_id = _start(runtime, release)
    env: dict[str, str] = {}
    await _run(runtime, run_id, 0, env)
    said = await _run(runtime, run_id, 1, env)
    assert said.result.output == f"hello eu-west-1 in {release}\n"
    streamed: list[str] = []
    login = await service.take_step(
        runtime, ALICE, run_id, 2, "run", env=env, on_output=streamed.append
    )
    assert login.held == {"DB_PASSWORD": PASSWORD}  # for the walk to keep; never stored
    env.update(login.held)
    streamed = []
    used = await service.take_step(runtime, ALICE, run_id, 3, "run", env=env, on_output=streamed.append)
    assert used.result.status == "succeeded", used.result.output  # the shell had the real password
    assert used.result.output == f"pw=*** foo=unset in {release}\n"
    assert "".join(streamed) == used.result.output
    assert used.state.oplog_entry is not None
    run, commands = _run_row(runtime, run_id)
    assert commands[2] == "export DB_PASSWORD='***'; unset FOO"
    with runtime.sessions() as session:
        entry = oplog.entry_dict(oplog.get_entry(session, used.state.oplog_entry))
    stored = json.dumps([run.procedure, run.session_state, commands, entry], default=str)
    assert PASSWORD not in stored
    assert "export DB_PASSWORD='***'" in json.dumps(entry)
    terminal = SessionState.from_record(run.session_state)
    assert terminal.cwd == str(release) and terminal.withheld == ("DB_PASSWORD",)
    assert terminal.variables == {"REGION": "eu-west-1"} and "FOO" in terminal.unset


async def test_the_session_survives_abort_and_resume(runtime: Runtime, tmp_path: Path) -> None:
    release = tmp_path / "release"
    release.mkdir()
    run_id = _start(runtime, release)
    await _run(runtime, run_id, 0, {})
    service.abort_run(runtime, ALICE, run_id, env={})
    service.resume_run(runtime, ALICE, run_id)  # as another terminal would: nothing held in memory
    said = await _run(runtime, run_id, 1, {})
    assert said.result.output == f"hello eu-west-1 in {release}\n"
    await _run(runtime, run_id, 2, {})
    service.abort_run(runtime, ALICE, run_id, env={})
    service.resume_run(runtime, ALICE, run_id)
    forgotten = await _run(runtime, run_id, 3, {})  # the secret was not kept: the step cannot use it
    assert forgotten.result.status == "failed"
    service.resume_run(runtime, ALICE, run_id)
    given = await _run(runtime, run_id, 3, {"DB_PASSWORD": PASSWORD})  # as `runbook resume` asks for it
    assert given.result.output == f"pw=*** foo=unset in {release}\n"


async def test_a_masked_step_changed_in_the_runbook_is_refused(runtime: Runtime, tmp_path: Path) -> None:
    run_id = _start(runtime, tmp_path)
    await _run(runtime, run_id, 0, {})
    await _run(runtime, run_id, 1, {})
    book = tmp_path / "books" / "session.md"
    book.write_text(RUNBOOK.replace("; unset FOO", "; unset REGION"), encoding="utf-8")
    with pytest.raises(RunError, match="start a new run"):
        await _run(runtime, run_id, 2, {})
