"""Times and lengths of time as people type and read them: the one parser and the one formatter.

Reading (every CLI option, web form field and API parameter a person types goes through here):
- `parse_when(text, now=, zone=)`: `now`; `+2h`, `-30m`; `in 2 hours`, `2 hours ago`; a bare `2h` (from
  now); `today 14:00`, `tomorrow 09:00`, `14:00`; an ISO 8601 date-time with an offset (`…T13:00Z`,
  `…T14:00+01:00`) or without one (`2026-03-09 14:00`, `2026-03-09`), which is read on the wall clock of
  the team's time zone (DST-aware: a time the clocks skip means the instant they jump). Answers UTC.
- `parse_span(text)`: `2h`, `90m`, `1d`, `1h30m`, `45s`, `1.5h`, `2 hours`, `90 minutes`, `1 day 2 hours`.
- `parse_since(text, now=, zone=)`: how far back, a length before now (`30d`) or a time (`2026-03-01`).
Bad input raises `TimeInputError` (an `Invalid`: CLI exit 2, HTTP 400) naming the accepted forms.

Showing (templates through the Jinja filters of web/ui/templating.py, CLI tables, post-mortems):
- `show_time(t, zone)`: `2026-03-09 04:01 CET` (with `seconds=True`: `…04:01:30 CET`; `date=False`:
  `04:01 CET`); the zone's abbreviation always shown (`UTC+03` where the zone has no letters).
- `show_span(x)`: `45 s`, `10 min 30 s`, `2 h 5 min`, `5 d 1 h`: the two largest units, no decimals.
APIs keep ISO 8601 UTC; nothing here is for machines.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from opsbook.errors import Invalid

WHEN_FORMS = (
    "now, +2h, -30m, in 2 hours, 2 hours ago, today 14:00, tomorrow 09:00, "
    "2026-03-09 14:00 (the team's time zone), 2026-03-09T13:00Z or 2026-03-09T14:00+01:00"
)
SPAN_FORMS = "2h, 90m, 1d, 1h30m, 45s, 2 hours, 90 minutes"

_WORD_UNITS = {
    "s": "s", "sec": "s", "secs": "s", "second": "s", "seconds": "s",
    "m": "m", "min": "m", "mins": "m", "minute": "m", "minutes": "m",
    "h": "h", "hr": "h", "hrs": "h", "hour": "h", "hours": "h",
    "d": "d", "day": "d", "days": "d",
    "w": "w", "wk": "w", "week": "w", "weeks": "w",
}
_WORD_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)")
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")
_DAYS = {"today": 0, "tomorrow": 1, "yesterday": -1}
_SPAN_UNITS = (("d", 86400), ("h", 3600), ("min", 60), ("s", 1))


class TimeInputError(Invalid):
    """A time or a length of time that none of the accepted forms reads."""


def parse_span(text: str) -> timedelta:
    """A length of time a person typed: `2h`, `1h30m`, `90 minutes`, `1 day 2 hours` (never negative)."""
    from opsbook.config.types import parse_duration  # pydantic: only when something is parsed (CLI start-up)

    given = text.strip().lower()
    try:
        return parse_duration(given)
    except ValueError as exc:
        compact_error = str(exc)
    words = re.sub(r"[,]|\band\b", " ", given)
    parts = _WORD_PART.findall(words)
    if parts and _WORD_PART.sub("", words).strip() == "" and all(u in _WORD_UNITS for _, u in parts):
        try:
            return parse_duration("".join(n + _WORD_UNITS[u] for n, u in parts))
        except ValueError as exc:
            compact_error = str(exc)
    if "longer than ten years" in compact_error:
        raise TimeInputError(f"{text!r} is longer than ten years") from None
    raise TimeInputError(f"{text!r} is not a length of time; use e.g. {SPAN_FORMS}") from None


def parse_when(text: str, *, now: datetime, zone: str) -> datetime:
    """The instant (UTC) a person means by `text`, read at `now` in the team's time zone `zone`."""
    given = " ".join(text.strip().lower().split())
    if not given:
        raise TimeInputError(f"no time given; use e.g. {WHEN_FORMS}")
    try:
        found = _relative(given, now) or _on_day(given, now, zone) or _iso(given, zone)
    except TimeInputError as exc:
        raise TimeInputError(f"{text!r}: {exc}; use e.g. {WHEN_FORMS}") from None
    if found is None:
        raise TimeInputError(f"{text!r} is not a time; use e.g. {WHEN_FORMS}")
    return found


def parse_since(text: str, *, now: datetime, zone: str) -> datetime:
    """The instant (UTC) `text` goes back to: a length of time before `now` (`24h`, `30d`) or a time
    (`yesterday 09:00`, `2026-03-01`, read like `parse_when`)."""
    try:
        return (now - parse_span(text)).astimezone(UTC)
    except TimeInputError:
        pass
    try:
        return parse_when(text, now=now, zone=zone)
    except TimeInputError:
        raise TimeInputError(f"{text!r} is neither a length of time ({SPAN_FORMS}) nor a time "
                             f"({WHEN_FORMS})") from None


def _relative(given: str, now: datetime) -> datetime | None:
    """`now`, `+2h`, `-30m`, `in 2 hours`, `2 hours ago`, or a bare length (from now)."""
    if given == "now":
        return now.astimezone(UTC)
    sign, body = 1, given
    if given[0] in "+-":
        sign, body = (1 if given[0] == "+" else -1), given[1:].strip()
    elif given.startswith("in "):
        body = given[3:]
    elif given.endswith(" ago"):
        sign, body = -1, given[:-4]
    elif not given[0].isdigit() or _looks_like_a_date_or_clock(given):
        return None
    try:
        return (now + sign * parse_span(body)).astimezone(UTC)
    except TimeInputError:
        if body is given:  # a bare word that is no length: maybe an ISO time after all
            return None
        raise TimeInputError(f"{body!r} is not a length of time") from None


def _looks_like_a_date_or_clock(given: str) -> bool:
    return bool(re.match(r"\d{4}-|\d{1,2}:\d{2}", given))


def _on_day(given: str, now: datetime, zone: str) -> datetime | None:
    """`today 14:00`, `tomorrow 09:00`, `yesterday 23:30`, a bare `14:00` (today), `tomorrow` (00:00)."""
    word, _, clock = given.partition(" ")
    if word not in _DAYS:
        word, clock = "today", given
        if not _CLOCK.fullmatch(clock):
            return None
    hours_minutes = _CLOCK.fullmatch(clock) if clock else None
    if clock and hours_minutes is None:
        raise TimeInputError(f"{clock!r} is not a time of day (use HH:MM)")
    wall = time(0, 0)
    if hours_minutes is not None:
        h, m, s = (int(g) if g else 0 for g in hours_minutes.groups())
        if h > 23 or m > 59 or s > 59:
            raise TimeInputError(f"{clock!r} is not a time of day (use HH:MM)")
        wall = time(h, m, s)
    local_day: date = now.astimezone(ZoneInfo(zone)).date() + timedelta(days=_DAYS[word])
    return _wall_clock(datetime.combine(local_day, wall), zone)


def _iso(given: str, zone: str) -> datetime | None:
    """An ISO 8601 date or date-time; without an offset, on the wall clock of `zone`."""
    if not re.match(r"\d{4}-\d{2}-\d{2}", given):
        return None
    try:
        parsed = datetime.fromisoformat(given.upper().replace("Z", "+00:00"))
    except ValueError:
        raise TimeInputError("not an ISO 8601 date-time") from None
    if parsed.tzinfo is None:
        return _wall_clock(parsed, zone)
    return parsed.astimezone(UTC)


def _wall_clock(naive: datetime, zone: str) -> datetime:
    """The instant `zone`'s clocks show `naive` (the first of two; the jump itself for a skipped time)."""
    from opsbook.oncall.rotation import local_to_utc  # its config models only when a time is parsed

    return local_to_utc(naive, ZoneInfo(zone))


def zone_label(local: datetime) -> str:
    """The zone's abbreviation at that instant (`CET`, `CEST`, `UTC`), or `UTC+03` where it has none."""
    name = local.tzname() or "UTC"
    if name[0] in "+-":
        return "UTC" + (name if name[1:] != "00" else "")
    return name


def show_time(
    value: datetime | None, zone: str = "UTC", *, seconds: bool = False, date: bool = True,
    fmt: str | None = None,
) -> str:
    """`2026-03-09 04:01 CET` in `zone`; `seconds` adds them, `date=False` leaves the date out; `fmt` is a
    strftime pattern for the date-time part (the zone is added after it). `—` for no time."""
    if value is None:
        return "—"
    local = value.astimezone(ZoneInfo(zone))
    pattern = fmt or (("%Y-%m-%d " if date else "") + ("%H:%M:%S" if seconds else "%H:%M"))
    return f"{local.strftime(pattern)} {zone_label(local)}"


def show_span(value: timedelta | float | None) -> str:
    """`0.2 s`, `45 s`, `10 min 30 s`, `2 h 5 min`, `5 d 1 h`: the two largest neighbouring units, tenths
    of a second under 10 s; `—` for none."""
    if value is None:
        return "—"
    exact = max(value.total_seconds() if isinstance(value, timedelta) else float(value), 0.0)
    if exact < 9.95:
        return f"{exact:.1f}".removesuffix(".0") + " s"
    seconds = round(exact)
    parts: list[str] = []
    for unit, size in _SPAN_UNITS:
        if seconds >= size:
            parts.append(f"{seconds // size} {unit}")
            seconds %= size
        elif parts:
            break  # "2 h 5 min", never "2 h 0 min 7 s": only neighbouring units
    return " ".join(parts[:2])
