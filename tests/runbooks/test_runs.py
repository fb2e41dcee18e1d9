"""Runs through the service: destructive steps need the typed name, state survives for resume, the oplog
entry has every template field with real durations and outputs and no secret, unattended runs refuse
everything not marked auto. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from opsbook.clock import SystemClock
from opsbook.oplog import service as oplog
from opsbook.oplog.markdown import entry_markdown
from opsbook.runbooks import service
from opsbook.runbooks.catalog import Catalog, Entry, Found
from opsbook.runbooks.config import RunbooksSettings
from opsbook.runbooks.parse import parse_runbook
from opsbook.runbooks.service import ConfirmationRequired, NotAutomatable, RunContext, RunError

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


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker:
    return sessionmaker(engine)


@pytest.fixture
def catalog() -> Catalog:
    return Catalog([Entry("cache", "cache.md", parse_runbook(RUNBOOK, "cache.md"))])


@pytest.fixture
def ctx(tmp_path: Path) -> RunContext:
    settings = RunbooksSettings(default_timeout="30s")
    environ = {"PATH": "/usr/bin:/bin", "CACHE_TOKEN": SECRET}
    return RunContext(settings=settings, clock=SystemClock(), secrets={"config-secret-x"}, environ=environ)


def _start(sessions: sessionmaker, found: Found, tmp_path: Path, **kw: object) -> int:
    with sessions.begin() as session:
        run = service.start_run(
            session,
            found,
            now=SystemClock().now(),
            operator="alice",
            params={"cache-name": "main", "<dir>": str(tmp_path), "YYYY-MM-DD": "2026-01-05"},
            incident_id=42,
            reason="cache errors",
            **kw,
        )  # type: ignore[arg-type]
        return run.id


async def test_walk_destructive_refused_then_oplog(
    sessions: sessionmaker, catalog: Catalog, ctx: RunContext, tmp_path: Path
) -> None:
    (tmp_path / "old").mkdir()
    found = catalog.resolve("rotate cache")
    run_id = _start(sessions, found, tmp_path)
    r1 = await service.perform(sessions, run_id, 0, "run", ctx=ctx, actor="alice")
    assert r1.status == "succeeded" and r1.output == "token *** works for main\n"
    r2 = await service.perform(sessions, run_id, 1, "run", ctx=ctx, actor="alice")
    assert r2.output == "today is 2026-01-05\n"
    with pytest.raises(ConfirmationRequired):
        await service.perform(sessions, run_id, 2, "run", ctx=ctx, actor="alice")
    with pytest.raises(ConfirmationRequired):
        await service.perform(sessions, run_id, 2, "run", ctx=ctx, actor="alice", confirm_name="wipe")
    assert (tmp_path / "old").exists(), "a destructive step ran without its typed name"
    with sessions() as session:
        assert service.next_step(service.steps_of(session, run_id)).position == 2  # type: ignore[union-attr]
    r3 = await service.perform(
        sessions, run_id, 2, "run", ctx=ctx, actor="alice", confirm_name="wipe-old-entries"
    )
    assert r3.status == "succeeded" and not (tmp_path / "old").exists()
    r4 = await service.perform(sessions, run_id, 3, "run", ctx=ctx, actor="alice")
    assert (r4.status, r4.exit_code, r4.output) == ("failed", 4, "broken\n")
    with sessions() as session:  # a failed step is where a resume starts
        assert service.next_step(service.steps_of(session, run_id)).position == 3  # type: ignore[union-attr]
    await service.perform(sessions, run_id, 3, "continue", ctx=ctx, actor="alice")
    await service.perform(sessions, run_id, 4, "not_done", ctx=ctx, actor="alice")
    with sessions.begin() as session:
        entry = service.finish_run(session, run_id, now=SystemClock().now(), secrets=ctx.secrets | {SECRET})
        entry_id = entry.id
    with sessions() as session:
        row = oplog.get_entry(session, entry_id)
        data = oplog.entry_dict(row)
        text = entry_markdown(row)
        assert oplog.entries_for_incident(session, 42)[0].id == entry_id
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
    for label in ("Date/Time:", "Operation:", "Reason:", "Impact:", "Duration:", "Issues:", "Follow-up:"):
        assert label in text
    assert SECRET not in json.dumps(data) and SECRET not in text


async def test_actions_are_checked(
    sessions: sessionmaker, catalog: Catalog, ctx: RunContext, tmp_path: Path
) -> None:
    run_id = _start(sessions, catalog.resolve("Rotate cache"), tmp_path)
    with pytest.raises(RunError, match="run it or skip it"):
        await service.perform(sessions, run_id, 0, "done", ctx=ctx, actor="a")
    with pytest.raises(RunError, match="not run"):
        await service.perform(sessions, run_id, 4, "run", ctx=ctx, actor="a")
    await service.perform(sessions, run_id, 0, "skip", ctx=ctx, actor="a")
    with pytest.raises(RunError, match="already skipped"):
        await service.perform(sessions, run_id, 0, "run", ctx=ctx, actor="a")
    with sessions.begin() as session:
        service.finish_run(session, run_id, now=SystemClock().now(), status="aborted")
    with pytest.raises(RunError, match="aborted"):
        await service.perform(sessions, run_id, 1, "run", ctx=ctx, actor="a")
    with sessions.begin() as session:
        service.reopen(session, run_id)
    assert (await service.perform(sessions, run_id, 1, "skip", ctx=ctx, actor="a")).status == "skipped"
    with pytest.raises(RunError, match="unknown parameter"), sessions.begin() as session:
        service.start_run(
            session,
            catalog.resolve("Rotate cache"),
            now=SystemClock().now(),
            operator="a",
            params={"nope": "1"},
        )


async def test_unattended_runs_only_auto_steps(
    sessions: sessionmaker, catalog: Catalog, ctx: RunContext, tmp_path: Path
) -> None:
    (tmp_path / "cache").mkdir()
    with pytest.raises(NotAutomatable):
        await service.run_unattended(
            sessions, catalog.resolve("Rotate cache"), ctx=ctx, params={"dir": str(tmp_path)}
        )
    with pytest.raises(NotAutomatable):
        await service.run_unattended(sessions, catalog.resolve("Manual only"), ctx=ctx)
    run_id = await service.run_unattended(
        sessions, catalog.resolve("Warm cache"), ctx=ctx, params={"dir": str(tmp_path)}, incident_id="INC-7"
    )
    with sessions() as session:
        steps = {s.name: s for s in service.steps_of(session, run_id)}
        run = service.get_run(session, run_id)
        assert run.unattended and run.status == "succeeded" and run.operator == "opsbook"
        entry = oplog.entry_for_run(session, run_id)
        assert entry is not None and entry.source == "unattended" and entry.incident_id == "INC-7"
    assert steps["echo-warming"].status == "succeeded" and steps["echo-warming"].output == "warming\n"
    assert steps["rm-rf-dir-cache"].status == "succeeded" and not (tmp_path / "cache").exists()
    assert steps["needs-a-human"].status == "refused" and steps["needs-a-human"].output == ""
    assert steps["look-at-the-graphs"].status == "refused"
