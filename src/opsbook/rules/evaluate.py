"""Pure evaluation of a rule expression over one check's recent results.

`evaluate(expr, samples, now)` answers "is the condition true right now, and what is the value?". It knows
nothing of `for`: holding a condition over time is the alert state machine's job (opsbook.alerts.state).
Samples may be a superset of what a rule needs (the store reads one window per check for all its rules);
each rule keeps only the results inside its own window `(now - window, now]`.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from opsbook.rules import forecast
from opsbook.rules.expr import Expr, format_number

DOWN = "down"


@dataclass(frozen=True, slots=True)
class Sample:
    """One stored result of a check, as rules see it."""

    ts: datetime
    status: str  # "up" | "degraded" | "down"
    latency_ms: float | None = None
    values: Mapping[str, float] = field(default_factory=dict)
    message: str = ""

    def get(self, name: str) -> float | None:
        """`latency_ms` or a measured value; None if this result does not have it (or it is not finite)."""
        raw = self.latency_ms if name == "latency_ms" else self.values.get(name)
        if raw is None or isinstance(raw, bool):
            return None
        try:
            value = float(raw)
        except (TypeError, ValueError):
            return None
        return value if math.isfinite(value) else None


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The outcome of one evaluation: is the condition true, the measured value, and a readable sentence."""

    active: bool
    value: float | None
    threshold: float | None
    message: str
    detail: str = ""  # the newest result's own message (a summary's `{{ detail }}`)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-quantile (0 ≤ q ≤ 1) by linear interpolation between closest ranks (numpy's default)."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 1:
        raise ValueError("q must be between 0 and 1")
    ordered = sorted(values)
    rank = q * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    fraction = rank - low
    return ordered[low] + (ordered[high] - ordered[low]) * fraction


def aggregate(func: str, values: Sequence[float]) -> float | None:
    """avg/min/max/sum/count/last/pNN of `values` (oldest first); None when there are none (count: 0)."""
    if func == "count":
        return float(len(values))
    if not values:
        return None
    if func == "avg":
        return math.fsum(values) / len(values)
    if func == "min":
        return min(values)
    if func == "max":
        return max(values)
    if func == "sum":
        return math.fsum(values)
    if func == "last":
        return values[-1]
    if func.startswith("p"):
        return percentile(values, float(func[1:]) / 100)
    raise ValueError(f"unknown function {func!r}")


class Ordered(list[Sample]):
    """Samples sorted by time (equal times in arrival order), none later than the `now` they are
    evaluated at: how `alerts.windows` hands a check's window over, so evaluating skips sorting and
    filtering it again (a 5-minute window of a check run every second is 300 samples)."""


def _ts(sample: Sample) -> datetime:
    return sample.ts


def in_window(samples: Sequence[Sample], now: datetime, window: timedelta) -> list[Sample]:
    """Samples with `now - window < ts <= now` (oldest first if they came ordered)."""
    start = now - window
    if isinstance(samples, Ordered):
        return samples[bisect.bisect_right(samples, start, key=_ts) :]
    return [s for s in samples if start < s.ts <= now]


def consecutive_failures(samples: Sequence[Sample], now: datetime) -> int:
    """How many of the newest results (up to `now`) are down in a row."""
    count = 0
    for s in reversed(_upto(samples, now)):
        if s.status != DOWN:
            break
        count += 1
    return count


def _upto(samples: Sequence[Sample], now: datetime) -> list[Sample]:
    if isinstance(samples, Ordered):
        return samples
    ordered = sorted(samples, key=_ts)
    return [s for s in ordered if s.ts <= now]


def evaluate(
    expr: Expr, samples: Sequence[Sample], now: datetime, history: forecast.History | None = None
) -> Evaluation:
    """Evaluate `expr` at `now` over a check's samples (any order; later than `now` is ignored); a
    forecast (`days_until`) over the `history` of its value instead."""
    operand = expr.operand
    if operand.kind == "forecast":
        return forecast.evaluate(expr, history, now)
    if operand.kind == "heartbeat":
        upto = _upto(samples, now)
        if not upto:
            return Evaluation(False, None, None, "no heartbeat result yet")
        newest = upto[-1]
        missed = float(consecutive_failures(upto, now))
        if newest.status == DOWN:
            detail = f": {newest.message}" if newest.message else ""
            return Evaluation(True, missed, None, f"heartbeat missing{detail}")
        return Evaluation(False, 0.0, None, "heartbeat received")

    if operand.kind == "failures":
        count = consecutive_failures(samples, now)
        active = expr.compare(count)
        upto = _upto(samples, now)
        detail = f": {upto[-1].message}" if count and upto[-1].message else ""
        return Evaluation(active, float(count), expr.threshold,
                          f"{count} consecutive failure{'s' if count != 1 else ''} "
                          f"({expr.describe_threshold()}){detail}", upto[-1].message if upto else "")

    if operand.kind == "error_rate":
        window = expr.window
        assert window is not None
        inside = in_window(samples, now, window)
        if not inside:
            return Evaluation(False, None, expr.threshold, f"{expr.operand_text()}: no results in the window")
        down = sum(1 for s in inside if s.status == DOWN)
        rate = 100.0 * down / len(inside)
        return Evaluation(expr.compare(rate), rate, expr.threshold,
                          f"{expr.operand_text()} = {rate:.1f}% ({down} of {len(inside)} results down), "
                          f"threshold {expr.describe_threshold()}")

    # aggregate over a field
    if operand.func == "last":
        chosen = _upto(samples, now)
    else:
        window = expr.window
        assert window is not None
        chosen = in_window(samples, now, window)
        if not isinstance(samples, Ordered):
            chosen.sort(key=_ts)
    if operand.field == "latency_ms":  # the common case, as Sample.get reads it, without a call per sample
        values = [float(x) for x in (s.latency_ms for s in chosen)
                  if x is not None and not isinstance(x, bool) and math.isfinite(x)]
    else:
        values = [v for v in (s.get(operand.field) for s in chosen) if v is not None]
    value = aggregate(operand.func, values)
    if value is None:
        return Evaluation(False, None, expr.threshold, f"{expr.operand_text()}: no value")
    return Evaluation(expr.compare(value), value, expr.threshold,
                      f"{expr.operand_text()} = {format_value(value)}, threshold {expr.describe_threshold()}",
                      chosen[-1].message if chosen else "")


def format_value(value: float) -> str:
    if float(value).is_integer():
        return format_number(value)
    return f"{value:.2f}".rstrip("0").rstrip(".")
