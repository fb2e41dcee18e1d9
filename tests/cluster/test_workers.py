"""Real `opsbook worker` processes on PostgreSQL sharing the checks of one opsbook.yaml.

The checks probe a local HTTP server that counts the probes per check: with two and then three workers
every check is probed at its own rate (a check run by two workers would be probed twice as often), and
each worker holds its fair share of the leases. A worker killed with SIGKILL loses its checks and its
singleton duty to the survivor within the lease (2 s here) and a renewal round; the escalation it was
running goes on at the right step, and every message reaches the webhook receiver exactly once.
"""

from __future__ import annotations

import math
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster.procs import (
    OPSBOOK,
    Counting,
    Processes,
    counting_server,
    duty_holders,
    leases_by_member,
    query,
)
from tests.support import wait_until

CHECKS = 6
LEASE = 2  # seconds: a dead worker's checks move within LEASE + LEASE / 3


def checks_yaml(target: int, count: int = CHECKS) -> str:
    lines = [f'      - {{name: c{i}, kind: http, url: "http://127.0.0.1:{target}/c{i}", interval: 1s, '
             f"timeout: 1s}}" for i in range(1, count + 1)]
    return "\n".join(lines)


@pytest.fixture
def target() -> Iterator[Counting]:
    with counting_server() as server:
        yield server


@pytest.fixture
def procs(tmp_path: Path, pg_db: str) -> Iterator[Processes]:
    made = Processes(tmp_path / "opsbook.yaml", pg_db, tmp_path)
    yield made
    made.stop_all()


def probes_over(target: Counting, seconds: float) -> dict[str, int]:
    """Probes per check path during the next `seconds`."""
    before = target.snapshot()
    time.sleep(seconds)  # real processes probe in real time: the window being measured
    after = target.snapshot()
    return {path: after[path] - before[path] for path in after if path.startswith("/c")}


def fair(url: str, workers: list[str]) -> bool:
    held = leases_by_member(url)
    share = math.ceil(CHECKS / len(workers))
    return set(held) == set(workers) and sum(held.values()) == CHECKS and max(held.values()) <= share


def test_two_then_three_workers_share_the_checks_and_none_runs_twice(
    procs: Processes, target: Counting, pg_db: str
) -> None:
    procs.config.write_text(f"""
cluster: {{lease: {LEASE}s}}
services:
  - name: web
    checks:
{checks_yaml(target.port)}
""")
    procs.worker("w1")
    procs.worker("w2")
    wait_until(lambda: fair(pg_db, ["w1", "w2"]), "two workers holding three partitions each", limit=30)
    window = 4.0
    counts = probes_over(target, window)
    assert set(counts) == {f"/c{i}" for i in range(1, CHECKS + 1)}, counts  # every check runs
    assert max(counts.values()) <= window + 2, counts  # once a second, by one worker at a time

    procs.worker("w3")  # the third joins: the others give up what is beyond their share
    wait_until(lambda: fair(pg_db, ["w1", "w2", "w3"]), "three workers holding two each", limit=30)
    counts = probes_over(target, window)
    assert set(counts) == {f"/c{i}" for i in range(1, CHECKS + 1)}, counts
    assert max(counts.values()) <= window + 2, counts
    alive = query(pg_db, "SELECT name FROM cluster_members WHERE stopped_at IS NULL ORDER BY name")
    assert [name for (name,) in alive] == ["w1", "w2", "w3"]


def test_a_killed_worker_loses_its_checks_and_its_duty_and_nothing_is_lost_or_sent_twice(
    procs: Processes, target: Counting, pg_db: str
) -> None:
    hook = target.port  # one server: the checks' target and the webhook receiver
    target.status["/c1"] = 500  # api is down from the start: its alert pages ana, then the lead
    procs.config.write_text(f"""
cluster: {{lease: {LEASE}s}}
users:
  - {{name: ana, contacts: [{{url: "json://127.0.0.1:{hook}/ana"}}]}}
  - {{name: lead, contacts: [{{url: "json://127.0.0.1:{hook}/lead"}}]}}
escalation_policies:
  - name: default
    levels:
      - {{targets: ["user:ana"], after: 8s}}
      - {{targets: ["user:lead"]}}
routing:
  P1: {{action: page, channels: []}}
alerting: {{default_severity: P1}}
services:
  - name: web
    checks:
{checks_yaml(target.port)}
""")
    workers = {"w1": procs.worker("w1"), "w2": procs.worker("w2")}
    wait_until(lambda: fair(pg_db, ["w1", "w2"]), "the checks shared", limit=30)
    wait_until(lambda: len(target.posted("/ana")) == 1, "ana paged", limit=30)
    holders = duty_holders(pg_db, "escalation")
    assert len(holders) == 1, holders
    victim = holders[0]  # the worker running the escalation dies before the lead is due
    survivor = "w2" if victim == "w1" else "w1"
    assert not target.posted("/lead")  # not due yet
    workers[victim].send_signal(signal.SIGKILL)
    workers[victim].wait(10)

    wait_until(lambda: leases_by_member(pg_db) == {survivor: CHECKS}, "the survivor runs every check",
               limit=30)
    shown = subprocess.run([OPSBOOK, "cluster", "status", "-c", str(procs.config)], capture_output=True,
                           text=True, env={**procs.env, "COLUMNS": "80"}, check=True).stdout
    rows = {line.split()[1]: line for line in shown.splitlines() if line[:1] == "│" and line.split()[1:2]}
    assert "lost" in shown and "alive" in rows[survivor], shown  # the dead worker is shown, as lost
    assert f"{CHECKS} partitions of checks, 0 held by none" in shown, shown
    wait_until(lambda: duty_holders(pg_db, "escalation") == [survivor], "the escalation duty moved",
               limit=30)
    wait_until(lambda: len(target.posted("/lead")) == 1, "the lead paged by the survivor", limit=30)
    before = target.snapshot()
    wait_until(lambda: all(target.snapshot()[f"/c{i}"] > before[f"/c{i}"] for i in range(1, CHECKS + 1)),
               "every check probed after the takeover", limit=30)
    time.sleep(1.0)  # a window for a late duplicate to arrive (none should)
    assert len(target.posted("/ana")) == 1 and len(target.posted("/lead")) == 1, target.posts
    sent = query(pg_db, "SELECT channel, status, count(*) FROM notify_outbox GROUP BY channel, status")
    assert all(status == "sent" for _channel, status, _n in sent), sent
    assert all(n == 1 for _channel, _status, n in sent), sent
    steps = query(pg_db, "SELECT step_key FROM incident_escalation_steps ORDER BY id")
    assert [key for (key,) in steps] == ["r0-l0", "r0-l1"]  # each step once, in order
