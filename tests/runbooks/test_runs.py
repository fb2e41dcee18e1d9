"""Runs through the use cases: destructive steps need the typed name, state survives for resume, the
step that leaves nothing to do writes the oplog entry with every template field, real durations and
outputs and no secret; every change is audited and announced after commit (nothing on a refusal); a
viewer is refused; unattended runs refuse everything not marked auto. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from opsbook.auth.models import AuditRow
from opsbook.auth.roles import Principal, Role
from opsbook.clock import SystemClock
from opsbook.config.loader import parse_config
from opsbook.db.engine import make_sessionmaker
from opsbook.errors import Forbidden
from opsbook.events import DomainEvent, Event, Topic
from opsbook.oplog import service as oplog
from opsbook.oplog.markdown import entry_markdown
from opsbook.runbooks import service
from opsbook.runbooks.catalog import Catalog, Entry, Found
from opsbook.runbooks.errors import (
    ConfirmationRequired,
    NotAutomatable,
    RunError,
    RunInputError,
    RunNotFound,
)
from opsbook.runbooks.models import RunRow
from opsbook.runbooks.parse import parse_runbook
from opsbook.runbooks.records import next_step
from opsbook.runtime import Runtime
from tests.support import make_runtime

RUNBOOK = """\
# Cache runbook

## Rotate cache

```bash
# Check the token
test -n "$CACHE_TOKEN" && echo "token $CACHE_TOKEN works for <cache-name>"

# Show the date
echo "today is YYYY-MM-DD" && sleep 0.2

# Wipe old entries
rm -rf <dir>/old && echo wiped

# Fail on purpose
echo broken >&2; exit 4
```

- [ ] Tell the team

## Warm cache

<!-- opsbook: auto=true -->

```bash
echo warming
```

```bash {auto=true}
rm -rf <dir>/cache
```

```bash {confirm=true}
# Needs a human
echo "really?"
```

- [ ] Look at the graphs

## Manual only

```bash {auto=false}
echo hello
```
"""

SECRET = "s3cr3t-cache-token-value"
ALICE = Principal("alice", Role.RESPONDER, "test")
VERA = Principal("vera", Role.VIEWER, "test")


@pytest.fixture
def runtime(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Runtime:
    monkeypatch.setenv("CACHE_TOKEN", SECRET)
    return make_runtime(engine, SystemClock(), "runbooks:\n  default_timeout: 30s\n")


@pytest.fixture
def events(runtime: Runtime) -> Iterator[list[Event]]:
    seen: list[Event] = []
    unsubscribe = runtime.bus.subscribe(Topic.RUNS, seen.append)
    yield seen
    unsubscribe()


@pytest.fixture
def catalog() -> Catalog:
    return Catalog([Entry("cache", "cache.md", parse_runbook(RUNBOOK, "cache.md"))])


def _start(runtime: Runtime, found: Found, tmp_path: Path) -> int:
    state = service.start_run(
        runtime,
        ALICE,
        found,
        params={"cache-name": "main", "<dir>": str(tmp_path), "YYYY-MM-DD": "2026-01-05"},
        incident_id=42,
        reason="cache errors",
    )
    return state.run.id


def _next_position(runtime: Runtime, run_id: int) -> int | None:
    with runtime.sessions() as session:
        row = next_step(service.steps_of(session, run_id))
        return None if row is None else row.position


def _audit(runtime: Runtime) -> list[tuple[str, str, str, dict[str, object]]]:
    with runtime.sessions() as session:
        rows = session.scalars(select(AuditRow).order_by(AuditRow.id))
        return [(r.actor, r.action, r.target, r.detail) for r in rows]


async def test_walk_destructive_refused_then_oplog(
    runtime: Runtime, catalog: Catalog, tmp_path: Path
) -> None:
    (tmp_path / "old").mkdir()
    run_id = _start(runtime, catalog.resolve("rotate cache"), tmp_path)

    async def take(position: int, action: str, confirm: str | None = None) -> service.StepTaken:
        return await service.take_step(runtime, ALICE, run_id, position, action, confirm=confirm)

    r1 = (await take(0, "run")).result
    assert r1.status == "succeeded" and r1.output == "token *** works for main\n"
    r2 = (await take(1, "run")).result
    assert r2.output == "today is 2026-01-05\n"
    with pytest.raises(ConfirmationRequired):
        await take(2, "run")
    with pytest.raises(ConfirmationRequired):
        await take(2, "run", confirm="wipe")
    assert (tmp_path / "old").exists(), "a destructive step ran without its typed name"
    assert _next_position(runtime, run_id) == 2
    r3 = (await take(2, "run", confirm="wipe-old-entries")).result
    assert r3.status == "succeeded" and not (tmp_path / "old").exists()
    r4 = (await take(3, "run")).result
    assert (r4.status, r4.exit_code, r4.output) == ("failed", 4, "broken\n")
    assert _next_position(runtime, run_id) == 3  # a failed step is where a resume starts
    assert (await take(3, "continue")).state.oplog_entry is None
    last = await take(4, "not_done")  # nothing left to do: the run is closed and logged
    assert last.state.run.status == "failed" and last.state.oplog_entry is not None
    with runtime.sessions() as session:
        row = oplog.get_entry(session, last.state.oplog_entry)
        data = oplog.entry_dict(row)
        text = entry_markdown(row)
        assert oplog.entries_for_incident(session, 42)[0].id == row.id
    for field in (
        "date_time",
        "operation",
        "reason",
        "impact",
        "duration_s",
        "issues",
        "follow_up",
        "operator",
        "incident_id",
    ):
        assert data[field] not in (None, ""), field
    assert data["reason"] == "cache errors" and data["incident_id"] == "42" and data["operator"] == "alice"
    assert data["duration_s"] >= 0.2
    assert "step 4 (fail-on-purpose) failed with exit code 4" in data["issues"]
    assert "not done: Tell the team" in data["issues"]
    steps = {s["name"]: s for s in data["steps"]}
    assert steps["show-the-date"]["duration_s"] >= 0.2
    assert steps["fail-on-purpose"]["exit_code"] == 4 and steps["fail-on-purpose"]["output"] == "broken\n"
    assert steps["wipe-old-entries"]["command"] == f"rm -rf {tmp_path}/old && echo wiped"
    assert steps["tell-the-team"]["actor"] == "alice"
    for label in ("Date/Time:", "Operation:", "Reason:", "Impact:", "Duration:", "Issues:", "Follow-up:"):
        assert label in text
    assert SECRET not in json.dumps(data) and SECRET not in text


async def test_actions_are_checked(runtime: Runtime, catalog: Catalog, tmp_path: Path) -> None:
    run_id = _start(runtime, catalog.resolve("Rotate cache"), tmp_path)
    with pytest.raises(RunInputError, match="run it or skip it"):
        await service.take_step(runtime, ALICE, run_id, 0, "done")
    with pytest.raises(RunInputError, match="not run"):
        await service.take_step(runtime, ALICE, run_id, 4, "run")
    with pytest.raises(RunInputError, match="unknown action"):
        await service.take_step(runtime, ALICE, run_id, 0, "explode")
    with pytest.raises(RunError, match="has not failed"):
        await service.take_step(runtime, ALICE, run_id, 0, "continue")
    with pytest.raises(RunNotFound):
        await service.take_step(runtime, ALICE, run_id + 1, 0, "skip")
    await service.take_step(runtime, ALICE, run_id, 0, "skip")
    with pytest.raises(RunError, match="already skipped"):
        await service.take_step(runtime, ALICE, run_id, 0, "run")
    aborted = service.abort_run(runtime, ALICE, run_id)
    assert aborted.run.status == "aborted" and aborted.oplog_entry is not None
    with pytest.raises(RunError, match="aborted"):
        await service.take_step(runtime, ALICE, run_id, 1, "run")
    with pytest.raises(RunError, match="is aborted"):
        service.abort_run(runtime, ALICE, run_id)
    service.resume_run(runtime, ALICE, run_id)
    assert (await service.take_step(runtime, ALICE, run_id, 1, "skip")).result.status == "skipped"
    with pytest.raises(RunInputError, match="unknown parameter"):
        service.start_run(runtime, ALICE, catalog.resolve("Rotate cache"), params={"nope": "1"})
    with pytest.raises(RunInputError, match="missing parameters: cache-name"):
        service.start_run(runtime, ALICE, catalog.resolve("Rotate cache"), params={"dir": "/tmp"})


async def test_changes_are_audited_and_announced_after_commit(
    runtime: Runtime, catalog: Catalog, tmp_path: Path, events: list[Event]
) -> None:
    found = catalog.resolve("Rotate cache")
    run_id = _start(runtime, found, tmp_path)
    await service.take_step(runtime, ALICE, run_id, 0, "skip")
    with pytest.raises(ConfirmationRequired):  # refused: no audit row, no event
        await service.take_step(runtime, ALICE, run_id, 2, "run")
    service.finish_run(runtime, ALICE, run_id)
    subject = f"run:{run_id}"
    assert [(e.action, e.subject) for e in events if isinstance(e, DomainEvent)] == [
        ("started", subject), ("stepped", subject), ("finished", subject)
    ]
    audit = _audit(runtime)
    assert [(actor, action, target) for actor, action, target, _ in audit] == [
        ("alice", "runbook.run.start", "cache/rotate-cache"),
        ("alice", "runbook.step.skip", subject),
        ("alice", "runbook.run.finish", subject),
    ]
    assert audit[0][3] == {"run_id": run_id, "incident_id": "42"}
    assert audit[1][3] == {"step": 1, "status": "skipped", "exit_code": None}  # the audit log counts from 1


async def test_a_viewer_is_refused(
    runtime: Runtime, catalog: Catalog, tmp_path: Path, events: list[Event]
) -> None:
    found = catalog.resolve("Rotate cache")
    with pytest.raises(Forbidden):
        service.start_run(runtime, VERA, found, params={"cache-name": "x", "dir": "/tmp"})
    run_id = _start(runtime, found, tmp_path)
    events.clear()
    with pytest.raises(Forbidden):
        await service.take_step(runtime, VERA, run_id, 0, "skip")
    for refused in (service.abort_run, service.finish_run, service.resume_run):
        with pytest.raises(Forbidden):
            refused(runtime, VERA, run_id)
    assert events == []
    with runtime.sessions() as session:
        assert len(session.scalars(select(RunRow)).all()) == 1
        assert service.steps_of(session, run_id)[0].status == "pending"
    assert [action for _, action, _, _ in _audit(runtime)] == ["runbook.run.start"]


async def test_unattended_runs_only_auto_steps(runtime: Runtime, catalog: Catalog, tmp_path: Path) -> None:
    (tmp_path / "cache").mkdir()
    with pytest.raises(NotAutomatable):
        await service.run_unattended(runtime, catalog.resolve("Rotate cache"), params={"dir": str(tmp_path)})
    with pytest.raises(NotAutomatable):
        await service.run_unattended(runtime, catalog.resolve("Manual only"))
    run_id = await service.run_unattended(
        runtime, catalog.resolve("Warm cache"), params={"dir": str(tmp_path)}, incident_id="INC-7"
    )
    with runtime.sessions() as session:
        steps = {s.name: s for s in service.steps_of(session, run_id)}
        run = service.get_run(session, run_id)
        assert run.unattended and run.status == "succeeded" and run.operator == "opsbook"
        entry = oplog.entry_for_run(session, run_id)
        assert entry is not None and entry.source == "unattended" and entry.incident_id == "INC-7"
    assert steps["echo-warming"].status == "succeeded" and steps["echo-warming"].output == "warming\n"
    assert steps["rm-rf-dir-cache"].status == "succeeded" and not (tmp_path / "cache").exists()
    assert steps["needs-a-human"].status == "refused" and steps["needs-a-human"].output == ""
    assert steps["look-at-the-graphs"].status == "refused"
    assert _audit(runtime) == []  # opsbook's own actions are in the oplog and timelines, not the audit log


def test_an_unfinished_runs_follow_up_says_how_to_resume_with_the_config_elsewhere(
    engine: Engine, catalog: Catalog, tmp_path: Path
) -> None:
    """The server's config is not ./opsbook.yaml: the oplog entry's resume command names it (`-c`)."""
    where = tmp_path / "etc" / "opsbook.yaml"
    runtime = Runtime(loaded=parse_config("runbooks:\n  default_timeout: 30s\n", str(where), {}),
                      engine=engine, sessions=make_sessionmaker(engine), clock=SystemClock())
    run_id = _start(runtime, catalog.resolve("rotate cache"), tmp_path)
    aborted = service.abort_run(runtime, ALICE, run_id)
    assert aborted.oplog_entry is not None
    with runtime.sessions() as session:
        follow_up = oplog.entry_dict(oplog.get_entry(session, aborted.oplog_entry))["follow_up"]
    assert f"resume with `opsbook runbook resume {run_id} -c {where}`" in follow_up
