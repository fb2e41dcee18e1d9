"""The four DORA figures of a period, pure: deployment frequency, lead time for changes, change failure
rate and time to restore, per service and over all.

- Deployments: deploys and recorded changes to a service's production environment that ended
  (succeeded, failed or rolled back; interrupted ones and rollbacks are not deployments).
- Lead time: the median of commit time → deploy end, over succeeded deployments that gave a commit time.
- Change failure rate: failed deployments / deployments. A deployment failed if it failed or was rolled
  back, if a rollback of the service followed within `window` of its start, or if an incident opened on
  the service within `window` of its start.
- Time to restore: the median, over failed deployments, of the time from the failure to health restored:
  an automatic rollback's own measure; else a rollback that followed (its end − the failure); else the
  incident's time to resolve. Failures not restored yet are left out.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

ENDED = ("succeeded", "failed", "rolled_back")
BAD = ("failed", "rolled_back")


@dataclass(frozen=True)
class Change:
    """A deploy record as the figures need it."""

    service: str
    kind: str  # deploy | rollback | change
    status: str
    started_at: datetime
    ended_at: datetime | None = None
    committed_at: datetime | None = None
    regression_at: datetime | None = None
    restore_seconds: float | None = None


@dataclass(frozen=True)
class Outage:
    """An incident as the figures need it."""

    services: tuple[str, ...]
    opened_at: datetime
    resolved_at: datetime | None = None


@dataclass(frozen=True)
class Dora:
    service: str  # "" for all services together
    deployments: int
    days: float
    lead_time: timedelta | None
    failures: int
    time_to_restore: timedelta | None

    @property
    def per_day(self) -> float:
        return self.deployments / self.days if self.days > 0 else 0.0

    @property
    def change_failure_rate(self) -> float | None:
        return self.failures / self.deployments if self.deployments else None


def _median(values: Sequence[float]) -> timedelta | None:
    return timedelta(seconds=statistics.median(values)) if values else None


def _is_deployment(c: Change, since: datetime, until: datetime) -> bool:
    return c.kind != "rollback" and c.status in ENDED and since <= c.started_at <= until


def _restore(
    c: Change, rollbacks: Sequence[Change], outages: Sequence[Outage], window: timedelta
) -> float | None:
    """Seconds from the failure of `c` to health restored, or None (not restored, or not known)."""
    if c.restore_seconds is not None:
        return c.restore_seconds
    failed_at = c.regression_at or c.ended_at or c.started_at
    for rb in rollbacks:
        if c.started_at <= rb.started_at < c.started_at + window and rb.status == "succeeded" and rb.ended_at:
            return max((rb.ended_at - failed_at).total_seconds(), 0.0)
    for o in outages:
        if c.started_at <= o.opened_at < c.started_at + window and o.resolved_at is not None:
            return (o.resolved_at - o.opened_at).total_seconds()
    return None


def _failed(c: Change, rollbacks: Sequence[Change], outages: Sequence[Outage], window: timedelta) -> bool:
    if c.status in BAD:
        return True
    end = c.started_at + window
    return any(c.started_at < rb.started_at < end for rb in rollbacks) or any(
        c.started_at <= o.opened_at < end for o in outages
    )


def figures(
    service: str,
    changes: Iterable[Change],
    outages: Iterable[Outage],
    since: datetime,
    until: datetime,
    window: timedelta,
) -> Dora:
    """The figures of one service's production changes in [since, until] (`service` "" for all: give
    every service's changes and outages)."""
    chosen = sorted(changes, key=lambda c: c.started_at)
    relevant = list(outages)
    deployments = [c for c in chosen if _is_deployment(c, since, until)]
    lead = [
        ((c.ended_at or c.started_at) - c.committed_at).total_seconds()
        for c in deployments
        if c.status == "succeeded" and c.committed_at is not None
    ]
    failures = 0
    restore_times: list[float] = []
    for c in deployments:
        rollbacks = [r for r in chosen if r.kind == "rollback" and r.service == c.service]
        mine = [o for o in relevant if c.service in o.services]
        if _failed(c, rollbacks, mine, window):
            failures += 1
            seconds = _restore(c, rollbacks, mine, window)
            if seconds is not None:
                restore_times.append(seconds)
    return Dora(
        service,
        len(deployments),
        (until - since).total_seconds() / 86400,
        _median(lead),
        failures,
        _median(restore_times),
    )


def report(
    changes: Sequence[Change], outages: Sequence[Outage], since: datetime, until: datetime, window: timedelta
) -> list[Dora]:
    """One row per service that has changes, then one for all together."""
    services = sorted({c.service for c in changes})
    rows = [
        figures(
            s,
            [c for c in changes if c.service == s],
            [o for o in outages if s in o.services],
            since,
            until,
            window,
        )
        for s in services
    ]
    rows.append(figures("", changes, outages, since, until, window))
    return rows
