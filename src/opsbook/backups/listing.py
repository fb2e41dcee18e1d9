"""Reading a list command's output into backups: JSON (`aws rds describe-db-snapshots --output json`,
`pgbackrest info --output=json`) or lines (`ls -l --time-style=+%s DIR`). Pure: text in, backups out.

JSON: `items` is the dotted path to the list (`DBSnapshots`, `0.backup`; numbers index lists), and in
each item `time`, `size`, `status` and `id` are dotted paths. A time is ISO 8601 (a naive one is UTC) or
epoch seconds. Lines: whitespace-separated columns (a date and the clock time after it are one); the time
is the column given (1-based) or the first that reads as a time; the size the column given or the nearest
whole number before the time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from opsbook.backups.config import SIZE_UNITS, ListSource

EPOCH_MIN = 315_532_800  # 1980-01-01: smaller numbers are not epoch seconds of a backup
EPOCH_MAX = 4_102_444_800  # 2100-01-01


@dataclass(frozen=True)
class Listed:
    """One backup a listing shows."""

    ident: str
    ts: datetime
    size_bytes: float | None
    ok: bool


class ListingError(ValueError):
    """The output could not be read as the config says; the message says where."""


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time (naive: UTC) or epoch seconds (number or digits), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(float(value), UTC) if EPOCH_MIN <= value <= EPOCH_MAX else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if re.fullmatch(r"\d{9,10}(\.\d+)?", text):
        return parse_time(float(text))
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" UTC", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _path(item: Any, path: str) -> Any:
    for part in [p for p in path.split(".") if p]:
        if isinstance(item, list) and part.lstrip("-").isdigit():
            index = int(part)
            item = item[index] if -len(item) <= index < len(item) else None
        elif isinstance(item, dict):
            item = item.get(part)
        else:
            return None
    return item


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def parse_json(text: str, source: ListSource) -> list[Listed]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ListingError(f"the output is not JSON: {exc}") from None
    items = _path(document, source.items) if source.items else document
    if not isinstance(items, list):
        where = f"at {source.items!r}" if source.items else "at the top level"
        raise ListingError(f"no list of backups {where} of the JSON output")
    unit = SIZE_UNITS[source.size_unit]
    out: list[Listed] = []
    for index, item in enumerate(items):
        ts = parse_time(_path(item, source.time))
        if ts is None:
            raise ListingError(f"backup {index + 1}: no time at {source.time!r} (ISO 8601 or epoch seconds)")
        size = _number(_path(item, source.size)) if source.size else None
        ok = True
        if source.status:
            status = _path(item, source.status)
            ok = str(status).strip().lower() in {s.lower() for s in source.ok_status}
        ident = _path(item, source.id) if source.id else None
        out.append(Listed(str(ident) if ident is not None else ts.isoformat(), ts,
                          size * unit if size is not None else None, ok))
    return out


def _column(columns: Sequence[str], spec: str) -> str | None:
    index = int(spec) - 1
    return columns[index] if 0 <= index < len(columns) else None


def _line(columns: list[str], source: ListSource) -> tuple[datetime, float | None] | None:
    if source.time.isdigit():  # a column; any other value (the JSON default 'time') means find it
        raw = _column(columns, source.time)
        ts = parse_time(raw) if raw is not None else None
        at = int(source.time) - 1
    else:
        found = next(((i, t) for i, c in enumerate(columns) if (t := parse_time(c)) is not None), None)
        at, ts = found if found else (-1, None)
    if ts is None:
        return None
    size: float | None = None
    if source.size.isdigit():
        raw = _column(columns, source.size)
        size = _number(raw) if raw is not None else None
    else:
        before = [c for c in reversed(columns[:at]) if c.isdigit()]
        after = [c for c in columns[at + 1:] if c.isdigit()]
        nearest = before or after
        size = float(nearest[0]) if nearest else None
    return ts, size


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_CLOCK = re.compile(r"\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?")


def columns_of(line: str) -> list[str]:
    """Whitespace-separated columns; a date and a clock time after it (`ls --time-style=long-iso`) are one."""
    out: list[str] = []
    for word in line.split():
        if out and _CLOCK.fullmatch(word) and _DATE.fullmatch(out[-1]):
            out[-1] = f"{out[-1]} {word}"
        else:
            out.append(word)
    return out


def parse_lines(text: str, source: ListSource) -> list[Listed]:
    unit = SIZE_UNITS[source.size_unit]
    out: list[Listed] = []
    for line in text.splitlines():
        columns = columns_of(line)
        if not columns or columns[0] == "total":  # `ls -l` starts with "total N"
            continue
        read = _line(columns, source)
        if read is None:
            continue
        ts, size = read
        ident = f"{columns[-1]}@{ts.isoformat()}"[-300:]
        out.append(Listed(ident, ts, size * unit if size is not None else None, True))
    return out


def parse_listing(text: str, source: ListSource) -> list[Listed]:
    """The backups the output shows, oldest first; ListingError if it cannot be read."""
    found = parse_json(text, source) if source.format == "json" else parse_lines(text, source)
    return sorted(found, key=lambda b: b.ts)
