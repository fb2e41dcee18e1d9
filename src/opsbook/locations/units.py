"""What a process probes: a check without locations is one unit (its id); a check with locations is one
unit per location, `service/check@location`, whose results are stored under that name (check names
cannot hold `@`), so every stored result keeps its location and each location has its own state.

    probe_units(checks, location="eu", clustered=True)   # {"web/home": ..., "web/api@eu": ...}
    probe_units(checks, location=None, clustered=False)  # SQLite: every check once, unnamed
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SEP = "@"


def unit_id(check_id: str, location: str) -> str:
    return f"{check_id}{SEP}{location}"


def split(unit: str) -> tuple[str, str | None]:
    """`web/api@eu` → ("web/api", "eu"); a plain check id → (it, None)."""
    check_id, sep, location = unit.partition(SEP)
    return (check_id, location) if sep else (unit, None)


def locations_of(spec: Any) -> list[str]:
    return list(getattr(spec, "locations", None) or [])


def located(checks: Mapping[str, Any]) -> dict[str, Any]:
    """The enabled checks that list locations."""
    return {cid: spec for cid, spec in checks.items()
            if locations_of(spec) and getattr(spec, "enabled", True)}


def all_locations(checks: Mapping[str, Any]) -> list[str]:
    """Every location some check lists, sorted (the same order in every process of a cluster)."""
    return sorted({loc for spec in checks.values() for loc in locations_of(spec)})


def units_at(checks: Mapping[str, Any], location: str) -> list[str]:
    """The units probed from `location`."""
    return sorted(unit_id(cid, location) for cid, spec in located(checks).items()
                  if location in locations_of(spec))


def probe_units(checks: Mapping[str, Any], location: str | None, clustered: bool) -> dict[str, Any]:
    """Unit id → check spec of what a process may run (its leases narrow it further).

    Not clustered (SQLite: one process runs everything), a check with locations runs once, unnamed, like a
    check without them. In a cluster, a check with locations runs only on workers of its locations, once
    per location; a process without a location never runs it."""
    if not clustered:
        return dict(checks)
    out: dict[str, Any] = {}
    for cid, spec in checks.items():
        where = locations_of(spec)
        if not where:
            out[cid] = spec
        elif location is not None and location in where:
            out[unit_id(cid, location)] = spec
    return out
