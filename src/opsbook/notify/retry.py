"""When to try a failed message again, and when to give up: pure functions over a RetryPolicy.

After the n-th failed attempt the wait is `min(cap, base * factor**(n-1))`, shortened by a random share
of up to `jitter` (so workers retrying after one outage do not all come back at the same instant).
With the defaults (5 s, factor 2, cap 10 min): 5 s, 10 s, 20 s, 40 s, 80 s, 160 s, 320 s, 600 s, 600 s...
"""

from __future__ import annotations

from datetime import timedelta

from opsbook.notify.config import RetryPolicy


def backoff_delay(failures: int, policy: RetryPolicy, rand: float) -> timedelta:
    """The wait after `failures` failed attempts (1 = the first failure); `rand` is uniform in [0, 1)."""
    if failures < 1:
        return timedelta(0)
    cap = policy.cap.total_seconds()
    base = policy.base.total_seconds()
    exponent = failures - 1
    # factor**exponent overflows for large counts; the cap is reached long before
    raw = cap if exponent > 64 else min(cap, base * policy.factor**exponent)
    share = min(max(rand, 0.0), 1.0)
    return timedelta(seconds=raw * (1.0 - policy.jitter * share))


def should_give_up(failures: int, age: timedelta, policy: RetryPolicy) -> bool:
    """True once `failures` reaches max_attempts or the message is older than max_age."""
    return failures >= policy.max_attempts or age >= policy.max_age
