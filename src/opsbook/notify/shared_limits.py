"""Channel rate limits shared by every delivery worker of a cluster (PostgreSQL).

A channel limited to `30/1m` must send at most 30 messages a minute however many `opsbook worker`
processes deliver. Each channel's token bucket (opsbook.notify.ratelimit.TokenBucket, the same
arithmetic) lives in a row of `notify_rate_buckets`, read and written under a row lock in one short
transaction per message, so two workers never take the same token. On SQLite (one process) the worker
keeps its buckets in memory (`RateLimiter`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from opsbook.notify.config import RateLimit
from opsbook.notify.models import RateBucketRow
from opsbook.notify.ratelimit import TokenBucket


class SharedRateLimiter:
    """The buckets of every rate-limited channel, in the database (blocking: call it in a thread)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def acquire(self, channel: str, limit: RateLimit | None, now: datetime) -> datetime | None:
        """None if a message may go to `channel` now (a token is taken); else when to try again."""
        if limit is None:
            return None
        with self.sessions.begin() as session:
            session.execute(
                insert(RateBucketRow).values(channel=channel, tokens=float(limit.count), updated_at=now)
                .on_conflict_do_nothing()
            )
            row = session.scalars(
                select(RateBucketRow).where(RateBucketRow.channel == channel).with_for_update()
            ).one()
            bucket = TokenBucket(limit.count, limit.per)
            bucket.tokens = min(row.tokens, float(limit.count))  # the limit may have been lowered
            bucket.updated = row.updated_at
            taken = bucket.try_take(now)
            row.tokens, row.updated_at = bucket.tokens, bucket.updated or now
            return None if taken else bucket.next_available(now)
