"""The in-memory rule windows (alerts.windows): always what a read of the store returns, read once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from opsbook.alerts.service import AlertEngine
from opsbook.checks.result import CheckResult, Status, StoredResult
from opsbook.checks.store import WRITTEN_KEY, write_batch
from opsbook.rules.evaluate import Sample
from tests.alerts.conftest import CONFIG, Harness, load

API = "api/health"  # p95(latency_ms) > 500 for 5m: a 5-minute window


def _same(harness: Harness, engine: AlertEngine, check_id: str) -> list[Sample]:
    """The check's window as kept; asserted equal to a read of the store."""
    with harness.sessions.begin() as session:
        now = harness.clock.now()
        kept = engine.windows.samples(session, [check_id], now)
        read = engine.read_samples(session, [check_id], now)
    assert kept == read
    return kept[check_id]


def test_windows_follow_results_late_and_out_of_order_and_read_the_store_once(harness: Harness) -> None:
    engine = harness.engine
    t0 = harness.clock.now()
    for i in range(12):  # a result every 30 s
        harness.clock._now = t0 + timedelta(seconds=30 * i)
        harness.write(API, latency=100.0 + i, message=f"run {i}")
        assert harness.process(API) == []
    assert engine.windows.loads == 1  # read from the store at the first evaluation only
    kept = _same(harness, engine, API)
    assert [s.latency_ms for s in kept] == [102.0 + i for i in range(10)]  # (now - 5m, now]

    # a result arriving late lands in its place; one older than the window is not shown
    harness.write(API, latency=900.0, at=harness.clock.now() - timedelta(seconds=15), message="late")
    harness.write(API, latency=950.0, at=harness.clock.now() - timedelta(minutes=7))
    kept = _same(harness, engine, API)
    assert [s.message for s in kept][-3:] == ["run 10", "late", "run 11"]
    assert 950.0 not in [s.latency_ms for s in kept]
    # two results at the same instant keep their arrival order, as the store's ids do
    harness.write(API, latency=1.0, at=harness.clock.now(), message="same instant")
    assert [s.message for s in _same(harness, engine, API)][-2:] == ["run 11", "same instant"]
    assert engine.windows.loads == 1

    # a new engine (a restart) rebuilds the same window from the store
    again = AlertEngine(load().config)
    assert _same(harness, again, API) == _same(harness, engine, API)
    assert again.windows.loads == 1


def test_an_evaluation_sees_its_own_batch_and_a_rolled_back_batch_leaves_no_trace(harness: Harness) -> None:
    engine = harness.engine
    now = harness.clock.now()
    harness.write(API, latency=100.0, at=now - timedelta(seconds=60))
    harness.process(API)
    slow = StoredResult(API, now, CheckResult(Status.UP, 2000.0))
    with pytest.raises(RuntimeError), harness.sessions.begin() as session:
        write_batch(session, [slow])
        seen = engine.windows.samples(session, [API], now)[API]
        assert [s.latency_ms for s in seen] == [100.0, 2000.0]  # uncommitted, but this transaction's own
        raise RuntimeError("the transaction fails after the evaluation")
    assert [s.latency_ms for s in _same(harness, engine, API)] == [100.0]

    # a window read inside a transaction that rolls back is not kept either
    fresh = AlertEngine(load().config)
    with pytest.raises(RuntimeError), harness.sessions.begin() as session:
        write_batch(session, [slow])
        assert [s.latency_ms for s in fresh.windows.samples(session, [API], now)[API]] == [100.0, 2000.0]
        raise RuntimeError("rolled back")
    assert [s.latency_ms for s in _same(harness, fresh, API)] == [100.0]


def test_a_window_read_while_another_transaction_commits_is_read_again(harness: Harness) -> None:
    engine = harness.engine
    now = harness.clock.now()
    harness.write(API, latency=100.0, at=now - timedelta(seconds=90))
    with harness.sessions.begin() as reader:
        first = engine.windows.samples(reader, [API], now)[API]
        assert [s.latency_ms for s in first] == [100.0]
        harness.write(API, latency=200.0, at=now - timedelta(seconds=60))  # commits meanwhile
    # the window the reader read (without 200) was not kept: the next use reads the store again
    assert [s.latency_ms for s in _same(harness, engine, API)] == [100.0, 200.0]
    assert engine.windows.loads == 2


def test_forget_reads_a_check_again(harness: Harness) -> None:
    engine = harness.engine
    harness.write(API, latency=100.0)
    _same(harness, engine, API)
    engine.windows.forget([API])
    _same(harness, engine, API)
    assert engine.windows.loads == 2



def test_a_window_keeps_measured_values_only_for_checks_whose_rules_read_them(harness: Harness) -> None:
    hot = "        rules: [{name: hot, when: 'cpu_pct > 80'}]\n"
    config = load(CONFIG.replace("      - name: flappy", hot + "      - name: flappy", 1))
    engine = AlertEngine(config.config)
    harness.write(API, values={"cpu_pct": 95.0})
    with harness.sessions.begin() as session:
        (health,) = engine.windows.samples(session, [API], harness.clock.now())[API]
    assert dict(health.values) == {"cpu_pct": 95.0}  # api/health now has a rule on cpu_pct
    fired = harness.process(API, engine=engine)
    assert [(t.rule, t.kind.value) for t in fired] == [("hot", "fired")]
    harness.write("api/flappy", values={"cpu_pct": 95.0})
    with harness.sessions.begin() as session:
        (flappy,) = engine.windows.samples(session, ["api/flappy"], harness.clock.now())["api/flappy"]
    assert dict(flappy.values) == {}  # its rules read latency and failures only


def test_a_result_another_process_wrote_is_not_missed(harness: Harness) -> None:
    """A worker that lost a check for a while and runs it again: the results another worker wrote
    meanwhile are read from the store, since the check's state says its newest result is newer."""
    engine = harness.engine
    t0 = harness.clock.now()
    harness.write(API, latency=100.0, at=t0)
    harness.process(API)
    with harness.sessions.begin() as session:  # another process: its commit feeds no window here
        write_batch(session, [StoredResult(API, t0 + timedelta(seconds=30), CheckResult(Status.UP, 900.0))])
        session.info.pop(WRITTEN_KEY)
    harness.clock._now = t0 + timedelta(seconds=60)
    with harness.sessions.begin() as session:  # this process writes the next result and evaluates
        write_batch(session, [StoredResult(API, harness.clock.now(), CheckResult(Status.UP, 200.0))])
        seen = engine.windows.samples(session, [API], harness.clock.now())[API]
    assert [s.latency_ms for s in seen] == [100.0, 900.0, 200.0]
    assert [s.latency_ms for s in _same(harness, engine, API)] == [100.0, 900.0, 200.0]
