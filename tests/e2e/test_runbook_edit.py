"""A runbook edited while opsbook runs: the next firing message carries the new steps (no restart)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine

from opsbook.checks.result import CheckResult, StoredResult
from opsbook.clock import FakeClock
from opsbook.pipeline import Pipeline
from tests.e2e.conftest import eventually
from tests.notify.conftest import Receiver
from tests.support import make_runtime

T0 = datetime(2026, 3, 9, 3, 0, tzinfo=UTC)
RUNBOOK = """# Jobs

## Restart the worker

1. Look at the queue depth
2. {restart}
"""


def config(receiver: Receiver, runbooks: Path) -> str:
    return f"""
channels:
  - {{name: ops, url: "{receiver.url('/hook')}"}}
routing:
  P2: {{action: notify, channels: [ops]}}
grouping: {{window: 0s}}
runbooks:
  folders: ["{runbooks}"]
services:
  - name: jobs
    checks:
      - {{name: first, kind: heartbeat, period: 1d}}
      - {{name: second, kind: heartbeat, period: 1d}}
    rules:
      - {{name: job-failed, when: "failures >= 1", severity: P2, runbook: "Restart the worker"}}
"""


async def test_the_next_firing_message_has_the_edited_steps(
    sqlite_engine: Engine, receiver: Receiver, tmp_path: Path
) -> None:
    folder = tmp_path / "runbooks"
    folder.mkdir()
    (folder / "jobs.md").write_text(RUNBOOK.format(restart="Run systemctl restart worker"))
    clock = FakeClock(T0)
    pipeline = Pipeline(make_runtime(sqlite_engine, clock, config(receiver, folder)))

    async def fail(check: str) -> None:
        await clock.advance(timedelta(seconds=30))
        pipeline.record(StoredResult(f"jobs/{check}", clock.now(), CheckResult.down("job failed")))
        await pipeline.writer.flush()
        await pipeline.notifier.run_once()

    await fail("first")
    await eventually(lambda: len(receiver.bodies("/hook")) == 1, "the first firing message")
    assert "systemctl restart worker" in receiver.bodies("/hook")[0]["message"]

    (folder / "jobs.md").write_text(RUNBOOK.format(restart="Run kubectl rollout restart deploy/worker"))
    await fail("second")
    await eventually(lambda: len(receiver.bodies("/hook")) == 2, "the second firing message")
    second = receiver.bodies("/hook")[1]["message"]
    assert "kubectl rollout restart deploy/worker" in second
    assert "systemctl" not in second
