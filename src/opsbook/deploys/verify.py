"""Judging a deploy, pure: its checks' results during the verification window against the same checks
over the period before it (the baseline).

Per check, the window regresses when its error rate exceeds the baseline's by more than
`max_error_rate_increase`, or its p95 latency exceeds both `max_p95_ratio` x the baseline's p95 and the
baseline's p95 + `min_p95_increase`; a watched rule firing is a regression too. No verdict is given on
fewer than `min_samples` results of a check. A check without a baseline (it never ran before) is held
against an error rate of 0 and no latency limit.

`healthy_round` says whether one round of results (after a rollback) is within the same limits: every
result up, every latency within the limit.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Sample:
    """One result of one check."""

    check_id: str
    ts: datetime
    ok: bool
    latency_ms: float | None


@dataclass(frozen=True)
class Figures:
    """What a set of results of one check amounts to."""

    count: int = 0
    failures: int = 0
    p95_ms: float | None = None

    @property
    def error_rate(self) -> float:
        return self.failures / self.count if self.count else 0.0

    def as_dict(self) -> dict[str, Any]:
        p95 = None if self.p95_ms is None else round(self.p95_ms, 1)
        return {
            "count": self.count,
            "failures": self.failures,
            "error_rate": round(self.error_rate, 4),
            "p95_ms": p95,
        }


@dataclass(frozen=True)
class Limits:
    max_error_rate_increase: float = 0.02
    max_p95_ratio: float = 1.5
    min_p95_increase_ms: float = 50.0
    min_samples: int = 5

    def allowed_error_rate(self, baseline: Figures) -> float:
        return baseline.error_rate + self.max_error_rate_increase

    def allowed_p95(self, baseline: Figures) -> float | None:
        if baseline.p95_ms is None:
            return None
        return max(baseline.p95_ms * self.max_p95_ratio, baseline.p95_ms + self.min_p95_increase_ms)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank q-quantile (0 < q <= 1) of `values`; None for none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(q * len(ordered)) - 1, 0)]


def figures(samples: Iterable[Sample]) -> Figures:
    chosen = list(samples)
    latencies = [s.latency_ms for s in chosen if s.ok and s.latency_ms is not None]
    return Figures(len(chosen), sum(1 for s in chosen if not s.ok), percentile(latencies, 0.95))


def by_check(samples: Iterable[Sample]) -> dict[str, list[Sample]]:
    out: dict[str, list[Sample]] = {}
    for sample in samples:
        out.setdefault(sample.check_id, []).append(sample)
    return out


@dataclass(frozen=True)
class CheckVerdict:
    check_id: str
    baseline: Figures
    window: Figures
    reasons: tuple[str, ...] = ()

    def as_dict(self, limits: Limits) -> dict[str, Any]:
        allowed_p95 = limits.allowed_p95(self.baseline)
        return {
            "check": self.check_id,
            "baseline": self.baseline.as_dict(),
            "window": self.window.as_dict(),
            "allowed_error_rate": round(limits.allowed_error_rate(self.baseline), 4),
            "allowed_p95_ms": None if allowed_p95 is None else round(allowed_p95, 1),
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True)
class Verdict:
    """The judgement of a window so far: `regression` with its reasons, or not (yet)."""

    checks: tuple[CheckVerdict, ...]
    rules: tuple[str, ...] = ()
    decided: bool = True  # False: too few results for a verdict on some check
    limits: Limits = field(default_factory=Limits)

    @property
    def reasons(self) -> list[str]:
        return [f"rule {r} fired" for r in self.rules] + [r for c in self.checks for r in c.reasons]

    @property
    def regression(self) -> bool:
        return bool(self.reasons)

    def as_dict(self) -> dict[str, Any]:
        return {
            "regression": self.regression,
            "reasons": self.reasons,
            "rules_fired": list(self.rules),
            "checks": [c.as_dict(self.limits) for c in self.checks],
        }


def _pct(value: float) -> str:
    return f"{value * 100:.1f} %"


def judge_check(check_id: str, baseline: Figures, window: Figures, limits: Limits) -> CheckVerdict:
    reasons: list[str] = []
    if window.count >= limits.min_samples:
        allowed = limits.allowed_error_rate(baseline)
        if window.error_rate > allowed:
            reasons.append(
                f"{check_id}: error rate {_pct(window.error_rate)} against a baseline of "
                f"{_pct(baseline.error_rate)} (allowed {_pct(allowed)})"
            )
        allowed_p95 = limits.allowed_p95(baseline)
        if allowed_p95 is not None and window.p95_ms is not None and window.p95_ms > allowed_p95:
            reasons.append(
                f"{check_id}: p95 {window.p95_ms:.0f} ms against a baseline of "
                f"{baseline.p95_ms:.0f} ms (allowed {allowed_p95:.0f} ms)"
            )
    return CheckVerdict(check_id, baseline, window, tuple(reasons))


def judge(
    baseline: Mapping[str, Sequence[Sample]],
    window: Mapping[str, Sequence[Sample]],
    limits: Limits,
    rules_fired: Sequence[str] = (),
) -> Verdict:
    """The verdict on every watched check (the keys of `window`) and the rules that fired."""
    checks = tuple(
        judge_check(cid, figures(baseline.get(cid, ())), figures(samples), limits)
        for cid, samples in sorted(window.items())
    )
    decided = bool(checks) and all(c.window.count >= limits.min_samples for c in checks)
    return Verdict(checks, tuple(rules_fired), decided, limits)


def healthy_round(
    round_samples: Sequence[Sample], baseline: Mapping[str, Sequence[Sample]], limits: Limits
) -> bool:
    """Every result of the round up, and each latency within its check's p95 limit."""
    if not round_samples:
        return False
    for sample in round_samples:
        if not sample.ok:
            return False
        allowed = limits.allowed_p95(figures(baseline.get(sample.check_id, ())))
        if allowed is not None and sample.latency_ms is not None and sample.latency_ms > allowed:
            return False
    return True
