"""Escalation stepping: given a policy snapshot and an incident's times, which pages are due and when.

Pure: no database, no clock. The caller stores which steps it has sent (by `Step.key`) and, on every
tick or after a restart, sends each step of `due_steps(...)` it has not sent yet, then sleeps until
`next_step(...).due`. Keys are stable, so a restarted process resumes exactly where it stopped.

Timing, for levels L0, L1, … with `after` a0, a1, … and `repeat` R:
- level i of round r (r = 0 … R) is due at `opened + r * cycle + a0 + ... + a(i-1)`, where the cycle
  is the sum of every level's `after`;
- a step is sent only if it fell due before the acknowledgement (`due < acked_at`) and before the
  incident was resolved;
- once acknowledged, if `renotify_after` is set, a re-notification is due every `renotify_after`
  after the acknowledgement until the incident is resolved; it goes to the acknowledger if known,
  else to the first level's targets.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from opsbook.oncall.config import EscalationPolicy


@dataclass(frozen=True)
class Step:
    """One page of an escalation: which targets, when, and a key that names it for good."""

    kind: Literal["level", "renotify"]
    due: datetime
    targets: tuple[str, ...]  # "user:NAME" / "schedule:NAME"
    level: int  # 0-based level index (0 for re-notifications)
    round: int  # 0-based pass through the levels; for re-notifications, their count (1, 2, …)

    @property
    def key(self) -> str:
        """'r0-l1' (round 0, level 1) or 'renotify-2': stable across restarts, for idempotent sending."""
        return f"r{self.round}-l{self.level}" if self.kind == "level" else f"renotify-{self.round}"


@dataclass(frozen=True)
class EscalationState:
    """Where an escalation stands at `now`."""

    due: tuple[Step, ...]  # every step that is due by now, in order (already sent or not)
    next: Step | None  # the next step to come, None when nothing more will happen on its own
    exhausted: bool  # every level of every round has been paged and nobody acknowledged

    @property
    def current_level(self) -> int | None:
        """The level most recently paged (None before the first page)."""
        levels = [s.level for s in self.due if s.kind == "level"]
        return levels[-1] if levels else None


def snapshot(policy: EscalationPolicy) -> dict[str, Any]:
    """The policy as JSON-able data, to store with an incident when it opens."""
    return policy.model_dump(mode="json")


def restore(data: dict[str, Any]) -> EscalationPolicy:
    """The policy back from `snapshot`, independent of the current config."""
    return EscalationPolicy.model_validate(data)


def level_steps(policy: EscalationPolicy, opened_at: datetime) -> list[Step]:
    """Every level page of every round, ignoring acknowledgement: the full plan."""
    cycle = sum((level.after or timedelta(0) for level in policy.levels), timedelta(0))
    out: list[Step] = []
    for r in range(policy.repeat + 1):
        offset = r * cycle
        for i, level in enumerate(policy.levels):
            out.append(Step("level", opened_at + offset, tuple(level.targets), i, r))
            offset += level.after or timedelta(0)
    return out


def _renotify_step(policy: EscalationPolicy, acked_at: datetime, n: int, acked_by: str | None) -> Step:
    assert policy.renotify_after is not None
    targets = (f"user:{acked_by}",) if acked_by else tuple(policy.levels[0].targets)
    return Step("renotify", acked_at + n * policy.renotify_after, targets, 0, n)


def escalation_state(
    policy: EscalationPolicy,
    opened_at: datetime,
    now: datetime,
    acked_at: datetime | None = None,
    resolved_at: datetime | None = None,
    acked_by: str | None = None,
) -> EscalationState:
    """The steps due by `now` (inclusive), the next one to come, and whether the levels ran out."""
    stop = min((t for t in (acked_at, resolved_at) if t is not None), default=None)
    plan = [s for s in level_steps(policy, opened_at) if stop is None or s.due < stop]
    due = [s for s in plan if s.due <= now]
    upcoming = [s for s in plan if s.due > now]
    nxt = upcoming[0] if upcoming else None
    if acked_at is not None and policy.renotify_after is not None:
        n = 1
        while True:
            step = _renotify_step(policy, acked_at, n, acked_by)
            if resolved_at is not None and step.due >= resolved_at:
                break
            if step.due > now:
                nxt = nxt or step  # re-notifications come after every level step that is still to come
                break
            due.append(step)
            n += 1
    exhausted = stop is None and not upcoming
    return EscalationState(tuple(due), nxt, exhausted)


def due_steps(
    policy: EscalationPolicy,
    opened_at: datetime,
    now: datetime,
    acked_at: datetime | None = None,
    resolved_at: datetime | None = None,
    acked_by: str | None = None,
) -> list[Step]:
    """Every step due by `now`: send those whose `key` is not recorded as sent yet."""
    return list(escalation_state(policy, opened_at, now, acked_at, resolved_at, acked_by).due)


def next_step(
    policy: EscalationPolicy,
    opened_at: datetime,
    now: datetime,
    acked_at: datetime | None = None,
    resolved_at: datetime | None = None,
    acked_by: str | None = None,
) -> Step | None:
    """The next step after `now`, or None: sleep until its `due`."""
    return escalation_state(policy, opened_at, now, acked_at, resolved_at, acked_by).next
