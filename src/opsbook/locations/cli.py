"""The `--location` option of `opsbook worker` and `opsbook serve`, and what they and `opsbook validate`
say about the checks that list locations (light: imported by the CLI at start)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import typer

from opsbook.locations.units import all_locations, located, units_at
from opsbook.words import count

LocationOption = Annotated[str | None, typer.Option(
    help="Where this process probes from (e.g. eu): it runs the checks that list this location, once per "
    "location with the other locations' workers (PostgreSQL).",
)]

NEEDS_POSTGRES_FOR_LOCATION = (
    "--location needs PostgreSQL and workers in several places: on SQLite one `opsbook serve` runs every "
    "check once, from here"
)


def location_notes(checks: Mapping[str, Any], location: str | None, clustered: bool,
                   runs_checks: bool = True) -> list[str]:
    """What happens to the checks with locations in this process (empty when there are none)."""
    found = located(checks)
    places = all_locations(checks)
    if location is not None and location not in places:
        return [f"location {location}: no check lists it; this worker runs the checks without locations"]
    if not found or not runs_checks:
        return []
    listed = ", ".join(places)
    if not clustered:
        return [f"{count(len(found), 'check')} list locations ({listed}): on SQLite each runs once, from "
                "this process, without a quorum"]
    if location is None:
        return [f"{count(len(found), 'check')} list locations ({listed}): they run only on workers started "
                "with --location; this process runs the checks without locations"]
    return [f"location {location}: this worker probes {count(len(units_at(checks, location)), 'check')} "
            "from here (with the workers of the same location), and shares the checks without locations"]


def validate_notes(checks: Mapping[str, Any]) -> list[str]:
    """`opsbook validate`'s word on the checks with locations."""
    found = located(checks)
    if not found:
        return []
    return [f"{count(len(found), 'check')} list locations ({', '.join(all_locations(checks))}): on "
            "PostgreSQL each runs once per location, on the workers started with `--location NAME`, and is "
            "down when its quorum agrees (a process without --location does not run them); on SQLite each "
            "runs once, from `opsbook serve`, without a quorum"]
