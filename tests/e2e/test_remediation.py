"""Automated remediation: an alert whose runbook is marked `auto: true` runs it unattended, recorded in
the operations log and linked to the incident; a runbook without `auto` is never run by opsbook."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

from sqlalchemy import Engine

from opsbook.clock import FakeClock
from opsbook.oplog.service import entries_for_incident
from opsbook.pipeline import Pipeline
from opsbook.runbooks.models import RunRow
from tests.e2e.conftest import Service, eventually
from tests.support import make_runtime

RUNBOOKS = """# Runbooks

## Restart the worker
<!-- opsbook: auto=true -->

```bash
# 1. Restart it
echo restarted >> {marker}
```

## Rebuild the index

```bash
# 1. Rebuild
echo rebuilt >> {marker}
```
"""


def config(api: Service, folder: Path, runbook: str) -> str:
    return f"""
runbooks:
  folders: ["{folder}"]
services:
  - name: worker
    rules:
      - {{name: down, check: health, when: "failures >= 2", severity: P1, runbook: "{runbook}"}}
    checks:
      - {{name: health, kind: http, url: "{api.url}", interval: 30s, timeout: 2s, failures: 0}}
"""


async def fail_twice(sqlite_engine: Engine, api: Service, folder: Path, runbook: str) -> Pipeline:
    clock = FakeClock(datetime(2026, 3, 2, 3, 0, tzinfo=UTC))
    pipeline = Pipeline(make_runtime(sqlite_engine, clock, config(api, folder, runbook)))
    api.status = 500
    await pipeline.start()
    for runs in (1, 2):
        if runs > 1:
            await clock.advance(timedelta(seconds=30))
        await eventually(partial(lambda n: pipeline.scheduler.stats.finished >= n, runs), f"run {runs}")
        await pipeline.writer.flush()
    return pipeline


def runs(engine: Engine) -> list[RunRow]:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    with Session(engine) as s:
        return list(s.scalars(select(RunRow)))


async def test_an_auto_runbook_runs_when_its_alert_fires(
    sqlite_engine: Engine, api: Service, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    (tmp_path / "rb").mkdir()
    (tmp_path / "rb" / "ops.md").write_text(RUNBOOKS.format(marker=marker))
    pipeline = await fail_twice(sqlite_engine, api, tmp_path / "rb", "Restart the worker")
    try:
        await pipeline.remediations_done()
    finally:
        await pipeline.stop()
    assert marker.read_text() == "restarted\n"
    (run,) = runs(sqlite_engine)
    assert (run.status, run.operator, run.incident_id) == ("succeeded", "opsbook", "1")
    from sqlalchemy.orm import Session

    with Session(sqlite_engine) as s:
        (entry,) = entries_for_incident(s, 1)
    assert "Restart the worker" in entry.operation


async def test_a_runbook_without_auto_is_never_run_unattended(
    sqlite_engine: Engine, api: Service, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    (tmp_path / "rb").mkdir()
    (tmp_path / "rb" / "ops.md").write_text(RUNBOOKS.format(marker=marker))
    pipeline = await fail_twice(sqlite_engine, api, tmp_path / "rb", "Rebuild the index")
    try:
        await pipeline.remediations_done()
    finally:
        await pipeline.stop()
    assert not marker.exists() and runs(sqlite_engine) == []
