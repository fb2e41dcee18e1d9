"""Which partition each check belongs to: the leased checks in name order, dealt round-robin into
`min(partitions, number of checks)` partitions, so every partition has checks and shares are even.
Checks probed from several locations are leased per location, in a pool of partitions of each location
(`lease_pools`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from opsbook.locations.units import all_locations, locations_of, units_at


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


@dataclass(frozen=True)
class Pool:
    """Partitions leased among the live workers of one location (None: every worker), numbered from
    `first`: the checks without locations are pool None (numbered from 0), and each location's units
    (opsbook.locations.units) a pool of its own, numbered from `partitions × (its place + 1)`."""

    location: str | None
    first: int
    count: int
    units: dict[str, int]  # unit id → partition number


def lease_pools(checks: Mapping[str, Any], partitions: int) -> list[Pool]:
    """Every pool of the config, the same in every process (checks with locations listed once per
    location, never in pool None)."""
    plain = [c for c in leased(checks) if not locations_of(checks[c])]
    pools = [_pool(None, 0, plain, partitions)]
    for place, location in enumerate(all_locations(checks), start=1):
        pools.append(_pool(location, partitions * place, units_at(checks, location), partitions))
    return pools


def _pool(location: str | None, first: int, units: list[str], partitions: int) -> Pool:
    by_unit = {unit: first + part for unit, part in partition_map(units, partitions).items()}
    return Pool(location, first, partition_count(len(units), partitions), by_unit)
