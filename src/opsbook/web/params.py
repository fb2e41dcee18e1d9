"""Request parameters every router shares, bounded so no value reaches the store that it cannot hold."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, overload

from fastapi import HTTPException, Path, Query
from pydantic import Field

from opsbook.timefmt import SPAN_FORMS, WHEN_FORMS, TimeInputError, parse_since, parse_span, parse_when

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
WHEN_EXAMPLES = ["2026-03-09T13:00:00Z", "now", "-1h", "2026-03-09 14:00"]


def when_query(note: str = "", zone: str = "the team's time zone") -> Any:
    """The declaration of a GET parameter that takes a time (`start: str | None = when_query()`): a string
    in the OpenAPI schema, read by `query_when`, so a query takes what the CLI and the forms take."""
    return Query(None, max_length=64, examples=WHEN_EXAMPLES,
                 description=f"{note} A time: {WHEN_FORMS}. Without an offset it is read in {zone}.".lstrip())


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


def query_when(name: str, text: str | None, runtime: Runtime, zone: str | None = None) -> datetime | None:
    """A `when_query` parameter `name` as the instant (UTC) it means, like `when_of`; what it cannot read is
    a 422 whose message names the parameter and the accepted forms."""
    with _naming(name):
        return when_of(text, runtime, zone)


def query_since(name: str, text: str, runtime: Runtime) -> datetime:
    """A GET parameter saying how far back (`30d`, or a time as `when_query` takes it) as the instant (UTC)
    it goes back to; what it cannot read is a 422 naming the parameter."""
    with _naming(name):
        return parse_since(text, now=runtime.clock.now(), zone=runtime.config.timezone)


@contextmanager
def _naming(name: str) -> Iterator[None]:
    """A time the query parameter `name` gave that cannot be read: a 422 naming the parameter."""
    try:
        yield
    except TimeInputError as exc:
        raise HTTPException(422, f"query parameter {name!r}: {exc}") from None


def length_of(value: str | float | None) -> timedelta | None:
    """A `Length` as a timedelta; None if not given."""
    if value is None:
        return None
    return parse_span(value if isinstance(value, str) else f"{value}s")
