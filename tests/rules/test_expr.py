"""The rule expression parser: every documented form parses to what it says; bad input says where."""

from __future__ import annotations

from datetime import timedelta

import pytest

from opsbook.rules.expr import ExprError, failures_needed, parse


def test_consecutive_failures() -> None:
    e = parse("failures >= 3")
    assert e.operand.kind == "failures"
    assert (e.op, e.threshold, e.hold) == (">=", 3.0, timedelta(0))
    assert e.window is None
    assert failures_needed(e) == 3
    assert failures_needed(parse("failures > 3")) == 4


def test_percentile_window_defaults_to_for() -> None:
    e = parse("p95(latency_ms) > 500 for 5m")
    assert (e.operand.kind, e.operand.func, e.operand.field) == ("aggregate", "p95", "latency_ms")
    assert e.operand.quantile == pytest.approx(0.95)
    assert e.window == timedelta(minutes=5)
    assert e.hold == timedelta(minutes=5)
    assert e.canonical() == "p95(latency_ms over 5m) > 500 for 5m"


def test_explicit_window_inside_and_after() -> None:
    assert parse("p95(latency_ms over 10m) > 500 for 5m").window == timedelta(minutes=10)
    e = parse("avg(latency_ms) > 300 over 10m")
    assert e.window == timedelta(minutes=10)
    assert e.hold == timedelta(0)


@pytest.mark.parametrize("func", ["avg", "max", "min", "p50", "p95", "p99", "p99.9", "sum", "count"])
def test_functions(func: str) -> None:
    assert parse(f"{func}(latency_ms) > 1 for 1m").operand.func == func


def test_error_rate_percent() -> None:
    e = parse("error_rate > 10% over 5m for 5m")
    assert e.operand.kind == "error_rate"
    five = timedelta(minutes=5)
    assert (e.threshold, e.percent, e.window, e.hold) == (10.0, True, five, five)
    assert parse("error_rate(over 2m) > 10 for 5m").window == timedelta(minutes=2)


@pytest.mark.parametrize(
    ("text", "field", "op", "threshold", "hold"),
    [
        ("cpu_pct > 80 for 5m", "cpu_pct", ">", 80, timedelta(minutes=5)),
        ("days_left < 14", "days_left", "<", 14, timedelta(0)),
        ("connections_pct > 80 for 2m", "connections_pct", ">", 80, timedelta(minutes=2)),
        ("disk_pct>=85", "disk_pct", ">=", 85, timedelta(0)),
        ("temp != -1.5 for 1h30m", "temp", "!=", -1.5, timedelta(minutes=90)),
    ],
)
def test_value_thresholds(text: str, field: str, op: str, threshold: float, hold: timedelta) -> None:
    e = parse(text)
    got = (e.operand.func, e.operand.field, e.op, e.threshold, e.hold)
    assert got == ("last", field, op, threshold, hold)
    assert e.window is None


def test_heartbeat_missing() -> None:
    assert parse("heartbeat missing").operand.kind == "heartbeat"
    assert parse("Heartbeat MISSING for 10m").hold == timedelta(minutes=10)


@pytest.mark.parametrize(
    "text",
    [
        "failures >= 3",
        "p95(latency_ms) > 500 for 5m",
        "error_rate > 10% over 5m for 5m",
        "cpu_pct > 80 for 5m",
        "heartbeat missing for 1m",
        "avg(x over 30s) <= 0.25",
    ],
)
def test_canonical_round_trips(text: str) -> None:
    e = parse(text)
    again = parse(e.canonical())
    key = (again.operand.kind, again.operand.func, again.operand.field, again.op, again.threshold)
    assert key == (e.operand.kind, e.operand.func, e.operand.field, e.op, e.threshold)
    assert (again.hold, again.window, again.canonical()) == (e.hold, e.window, e.canonical())


@pytest.mark.parametrize(
    ("text", "column", "fragment"),
    [
        ("", 1, "empty"),
        ("p95(latency_ms) >> 500", 18, "expected a number after '>'"),
        ("p95(latency_ms) 500", 17, "expected a comparison"),
        ("p96x(latency_ms) > 1 for 1m", 1, "unknown function 'p96x'"),
        ("p95(latency_ms) > 500", 1, "needs a window"),
        ("error_rate > 10%", 1, "needs a window"),
        ("p95(latency_ms) > 500 for 5", 27, "needs a unit"),
        ("p95(latency_ms) > 500 for 5min", 27, "neither a number nor a duration"),
        ("p95(latency_ms) > 500ms for 5m", 19, "plain number"),
        ("failures >= 3 over 5m", 15, "takes no window"),
        ("cpu_pct > 80 over 5m", 14, "latest value"),
        ("p95(latency_ms > 500", 16, "expected ')'"),
        ("failures >= 3 for 5m please", 22, "expected 'for DURATION' or the end"),
        ("heartbeat late", 11, "expected 'missing'"),
        ("p95(over 5m) > 1", 5, "expected a field name"),
        ("failures >= 3 for 0s", 19, "longer than 0"),
        ("cpu_pct > 80 # hot", 14, "unexpected character '#'"),
        ("p95(latency_ms over 5m) > 1 over 5m", 29, "given twice"),
    ],
)
def test_errors_point_at_the_column(text: str, column: int, fragment: str) -> None:
    with pytest.raises(ExprError) as info:
        parse(text)
    assert info.value.column == column, str(info.value)
    assert fragment in str(info.value)
    assert f"at column {column}" in str(info.value)
