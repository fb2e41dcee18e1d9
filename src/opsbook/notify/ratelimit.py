"""Per-channel rate limits: a token bucket per channel over times passed in (no clock of its own).

A channel limited to `30/1m` holds up to 30 tokens, refilled at 30 per minute; each message takes one.
When none is left the message is not dropped: the worker puts it back with `next_attempt_at` set to
the instant the next token arrives. On SQLite the buckets live in the worker process; on PostgreSQL in
the database, shared by every worker of a cluster (opsbook.notify.shared_limits).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from opsbook.notify.config import RateLimit


@dataclass
class TokenBucket:
    capacity: int
    per: timedelta
    tokens: float = field(init=False)
    updated: datetime | None = None

    def __post_init__(self) -> None:
        self.tokens = float(self.capacity)

    @property
    def rate(self) -> float:
        """Tokens per second."""
        return self.capacity / self.per.total_seconds()

    def _refill(self, now: datetime) -> None:
        if self.updated is not None and now > self.updated:
            refill = (now - self.updated).total_seconds() * self.rate
            self.tokens = min(float(self.capacity), self.tokens + refill)
        if self.updated is None or now > self.updated:
            self.updated = now

    def try_take(self, now: datetime) -> bool:
        """Take a token if one is available at `now`."""
        self._refill(now)
        if self.tokens >= 1.0 - 1e-9:
            self.tokens = max(0.0, self.tokens - 1.0)
            return True
        return False

    def next_available(self, now: datetime) -> datetime:
        """The earliest instant at which a token will be available (now, if one is)."""
        self._refill(now)
        missing = 1.0 - self.tokens
        if missing <= 1e-9:
            return now
        return now + timedelta(seconds=missing / self.rate)


class RateLimiter:
    """The buckets of every rate-limited channel."""

    def __init__(self) -> None:
        self._buckets: dict[str, TokenBucket] = {}

    def acquire(self, channel: str, limit: RateLimit | None, now: datetime) -> datetime | None:
        """None if a message may go to `channel` now (a token is taken); else when to try again."""
        if limit is None:
            return None
        bucket = self._buckets.get(channel)
        if bucket is None or bucket.capacity != limit.count or bucket.per != limit.per:
            bucket = self._buckets[channel] = TokenBucket(limit.count, limit.per)
        if bucket.try_take(now):
            return None
        return bucket.next_available(now)
