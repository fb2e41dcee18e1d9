"""Request parameters every router shares, bounded so no value reaches the store that it cannot hold."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, overload

from fastapi import Path, Query
from pydantic import Field

from opsbook.timefmt import SPAN_FORMS, WHEN_FORMS, parse_span, parse_when

if TYPE_CHECKING:
    from opsbook.runtime import Runtime

MAX_ID = 2**63 - 1
"""Row ids are 64-bit on PostgreSQL and SQLite alike: a larger number is no row, and a 422, not a 500."""

Id = Annotated[int, Path(ge=1, le=MAX_ID, description="A row id (1 or more).")]
Limit = Annotated[int, Query(ge=1, le=1000, description="At most this many, newest first.")]
Days = Annotated[int, Query(ge=1, le=3660, description="How many days back (at most ten years).")]

When = Annotated[str, Field(
    description=f"A time: {WHEN_FORMS}. Without an offset it is read in the team's time zone.",
    examples=["2026-03-09T13:00:00Z", "now", "+2h", "tomorrow 02:00"], max_length=64,
)]
"""A time a person types into an API body, read by opsbook.timefmt (bad input: 400 with the forms)."""
Length = Annotated[str | float, Field(description=f"A length of time: {SPAN_FORMS}, or a number of seconds.",
                                      examples=["2h", "90 minutes", 3600])]


@overload
def when_of(text: str, runtime: Runtime, zone: str | None = None) -> datetime: ...
@overload
def when_of(text: None, runtime: Runtime, zone: str | None = None) -> None: ...
@overload
def when_of(text: str | None, runtime: Runtime, zone: str | None = None) -> datetime | None: ...
def when_of(text: str | None, runtime: Runtime, zone: str | None = None) -> datetime | None:
    """A `When` as the instant (UTC) it means now, read in `zone` (default: the team's time zone); None if
    not given."""
    if text is None:
        return None
    return parse_when(text, now=runtime.clock.now(), zone=zone or runtime.config.timezone)


def length_of(value: str | float | None) -> timedelta | None:
    """A `Length` as a timedelta; None if not given."""
    if value is None:
        return None
    return parse_span(value if isinstance(value, str) else f"{value}s")
