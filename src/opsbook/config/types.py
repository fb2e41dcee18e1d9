"""Small value types shared by every section of opsbook.yaml: durations, names, the base model."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
)

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
DURATION_PATTERN = r"^(\d+(\.\d+)?(ms|s|m|h|d|w))+$"


MAX_DURATION = timedelta(days=3660)
"""No duration in opsbook.yaml is longer than ten years (400d of rollups is the longest in use)."""


def parse_duration(value: Any) -> timedelta:
    """'30s', '5m', '1h30m', '400d', a number of seconds, or a timedelta; at most ten years."""
    if isinstance(value, timedelta):
        return _bounded(value.total_seconds(), value)
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a string like '30s', '5m', '1h30m'")
    if isinstance(value, int | float):
        if value != value:  # NaN
            raise ValueError("a duration must be a number of seconds")
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return _bounded(float(value), value)
    if isinstance(value, str):
        text = value.strip().replace(" ", "")
        if re.fullmatch(DURATION_PATTERN, text):
            return _bounded(sum(float(n) * _UNITS[u] for n, u in _PART.findall(text)), text)
    raise ValueError(
        f"{value!r} is not a duration: use a number of seconds or a string like '30s', '5m', '1h30m'"
    )


def _bounded(seconds: float, given: Any) -> timedelta:
    if not seconds <= MAX_DURATION.total_seconds():  # also catches inf
        raise ValueError(f"{given!r} is longer than ten years: no duration here may be")
    return timedelta(seconds=seconds)


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be longer than 0 (e.g. '30s')")
    return value


def format_duration(value: timedelta) -> str:
    """The shortest string parse_duration reads back to the same value."""
    seconds = value.total_seconds()
    for unit in ("w", "d", "h", "m", "s"):
        size = _UNITS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{round(seconds * 1000)}ms"


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(
        {"type": ["string", "number"], "pattern": DURATION_PATTERN, "examples": ["30s", "5m", "1h"]}
    ),
]

PositiveDuration = Annotated[Duration, AfterValidator(_positive)]
"""A duration that must be longer than zero: intervals, timeouts, periods, windows, lengths of time kept."""

Name = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_\-]*$", min_length=1, max_length=64)]
"""A lower-case identifier used in URLs and on the command line: `api`, `postgres-main`, `disk_root`."""


class Model(BaseModel):
    """Base of every config section: unknown keys are errors, values are immutable once loaded.

    Validators are built at the first validation, not when a section's class is defined
    (`defer_build`): a command served a validated config from opsbook.config.cache never builds them."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


def _zone(value: Any) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name no file system takes
        raise ValueError(f"{value!r} is not an IANA time zone (e.g. 'Europe/Berlin', 'UTC')") from None
    return str(value)


TimeZone = Annotated[str, BeforeValidator(_zone)]
"""An IANA time zone name, checked when the file is loaded."""
