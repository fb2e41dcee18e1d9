"""Which partition each check belongs to: the leased checks in name order, dealt round-robin into
`min(partitions, number of checks)` partitions, so every partition has checks and shares are even."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def partition_map(check_ids: Iterable[str], partitions: int) -> dict[str, int]:
    """check id → partition number (0-based)."""
    ordered = sorted(set(check_ids))
    count = partition_count(len(ordered), partitions)
    return {check_id: i % count for i, check_id in enumerate(ordered)}


def partition_count(checks: int, partitions: int) -> int:
    """How many partitions are in use: never more than there are checks (and at least one)."""
    return max(1, min(partitions, checks))


def checks_in(partitions: Iterable[int], by_check: Mapping[str, int]) -> frozenset[str]:
    """The checks of those partitions."""
    wanted = set(partitions)
    return frozenset(check_id for check_id, part in by_check.items() if part in wanted)


def leased(checks: Mapping[str, Any]) -> list[str]:
    """The checks divided among workers: every enabled one (scheduled, and heartbeats for their deadlines)."""
    return [check_id for check_id, spec in checks.items() if getattr(spec, "enabled", True)]
