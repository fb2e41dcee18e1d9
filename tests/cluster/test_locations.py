"""Three real `opsbook worker` processes in three locations (eu, us, ap) on PostgreSQL probing one check
with `down_when: 2 of 3`.

Each worker reaches the target by its own route: the check's URL takes the path from the worker's
environment (`${PROBE_FROM}`), and the local target refuses the routes of the locations that "cannot
reach" it. One location failing → the check is not down and says "down from ap only"; two → down, its
alert pages once at a local webhook receiver. A location whose worker is killed raises its own alert
on opsbook and its checks are judged by the others (not down).
"""

from __future__ import annotations

import json
import signal
import time

from tests.cluster.procs import Counting, Processes, query
from tests.cluster.test_workers import procs, target  # noqa: F401  (the same fixtures)
from tests.support import wait_until

LOCATIONS = ("eu", "us", "ap")


def check_state(url: str) -> tuple[str, str]:
    rows = query(url, "SELECT status, last_message FROM check_states WHERE check_id = 'web/api'")
    return (str(rows[0][0]), str(rows[0][1])) if rows else ("", "")


def firing(url: str) -> list[str]:
    rows = query(url, "SELECT dedup_key FROM alerts WHERE state = 'firing' ORDER BY id")
    return [str(key) for (key,) in rows]


def pages_about(receiver: Counting, words: str) -> list[str]:
    bodies = [json.dumps(body) for body in receiver.posted("/ana")]
    return [b for b in bodies if words in b]


def test_one_location_failing_is_not_down_two_are_and_a_dead_location_alerts(
    procs: Processes, target: Counting, pg_db: str  # noqa: F811
) -> None:
    target.status["/ap/api"] = 500  # ap cannot reach the service
    procs.config.write_text(f"""
cluster: {{lease: 2s}}
users:
  - {{name: ana, contacts: [{{url: "json://127.0.0.1:{target.port}/ana"}}]}}
escalation_policies:
  - name: default
    levels:
      - {{targets: ["user:ana"]}}
routing:
  P1: {{action: page, channels: []}}
alerting: {{default_severity: P1, default_failures: 2}}
services:
  - name: web
    checks:
      - name: api
        kind: http
        url: "http://127.0.0.1:{target.port}/${{PROBE_FROM}}/api"
        interval: 1s
        timeout: 1s
        locations: [eu, us, ap]
        down_when: 2 of 3
""")
    workers = {where: procs.worker(f"w-{where}", "--location", where, env={"PROBE_FROM": where})
               for where in LOCATIONS}
    wait_until(lambda: check_state(pg_db) == ("up", "down from ap only"), "ap disagreeing, the check up",
               limit=30)
    hits = target.snapshot()
    assert all(hits[f"/{where}/api"] > 0 for where in LOCATIONS), hits  # each location probes by its route
    held = query(pg_db, "SELECT l.location, m.location FROM check_leases l JOIN cluster_members m "
                        "ON m.id = l.holder WHERE l.location IS NOT NULL")
    assert sorted(held) == sorted((w, w) for w in LOCATIONS)  # each pool leased by its own location
    time.sleep(2.0)  # a few more rounds of ap failing (2 failures would fire if they counted)
    assert check_state(pg_db)[0] == "up"
    assert "web/api:failures" not in firing(pg_db)
    assert pages_about(target, "web/api") == []

    target.status["/us/api"] = 500  # now two of three cannot reach it
    wait_until(lambda: "web/api:failures" in firing(pg_db), "the check's alert firing", limit=30)
    assert check_state(pg_db) == ("down", "down from us, ap (2 of 3); up from eu")
    wait_until(lambda: len(pages_about(target, "web/api")) == 1, "ana paged", limit=30)
    assert "down from us, ap (2 of 3)" in pages_about(target, "web/api")[0]
    time.sleep(2.0)  # a window for a second page from another location's worker (none should come)
    assert len(pages_about(target, "web/api")) == 1

    workers["ap"].send_signal(signal.SIGKILL)  # the ap location goes dark
    workers["ap"].wait(10)
    wait_until(lambda: "location-silent:ap" in firing(pg_db), "the location alert", limit=30)
    wait_until(lambda: check_state(pg_db)[0] == "up", "the check judged by eu and us: not down", limit=30)
    assert check_state(pg_db)[1] == "down from us only; ap not reporting"
    wait_until(lambda: len(pages_about(target, "location ap stopped reporting")) == 1, "the location page",
               limit=30)
    assert "no worker of ap is alive" in pages_about(target, "location ap stopped reporting")[0]
    assert len(pages_about(target, "web/api failed")) == 1
