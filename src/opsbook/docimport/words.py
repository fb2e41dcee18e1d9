"""English as operations documents write it: durations, severities, thresholds, days and times of day.

Every function is pure and total: it returns None (or an empty result) for text it cannot read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from opsbook.config.types import format_duration
from opsbook.rules.severity import Severity

_UNIT_SECONDS = {
    "ms": 0.001,
    "msec": 0.001,
    "millisecond": 0.001,
    "milliseconds": 0.001,
    "s": 1,
    "sec": 1,
    "secs": 1,
    "second": 1,
    "seconds": 1,
    "m": 60,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hr": 3600,
    "hrs": 3600,
    "hour": 3600,
    "hours": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
    "w": 604800,
    "wk": 604800,
    "week": 604800,
    "weeks": 604800,
}
_UNITS = "|".join(sorted(_UNIT_SECONDS, key=len, reverse=True))
DURATION = re.compile(rf"(?<![\w.])(\d+(?:\.\d+)?)\s*({_UNITS})(?![a-z])", re.IGNORECASE)
WORD_NUMBERS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "ten": 10,
    "fifteen": 15,
    "twenty": 20,
    "forty-five": 45,
    "thirty": 30,
    "sixty": 60,
    "a": 1,
    "an": 1,
}
_WORD_DURATION = re.compile(rf"\b({'|'.join(WORD_NUMBERS)})\s+({_UNITS})\b", re.IGNORECASE)
_SEVERITY = re.compile(r"\b(?:P|SEV[- ]?|SEVERITY\s*)([0-4])\b", re.IGNORECASE)
_SEVERITY_RANGE = re.compile(r"\bP([0-4])\s*(?:-|–|to|through)\s*P?([0-4])\b", re.IGNORECASE)

DEFAULT_GLOSSARY = {
    "critical": Severity.P0,
    "high": Severity.P1,
    "major": Severity.P1,
    "medium": Severity.P2,
    "moderate": Severity.P2,
    "warning": Severity.P2,
    "low": Severity.P3,
    "minor": Severity.P3,
    "planning": Severity.P4,
    "info": Severity.P4,
}
"""Severity words as opsbook's own levels read them, used when the document defines none itself."""


def seconds(text: str) -> float | None:
    """The first duration in the text, in seconds ('5 minutes' → 300, 'an hour' → 3600)."""
    match = DURATION.search(text)
    if match:
        return float(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]
    word = _WORD_DURATION.search(text)
    if word:
        return WORD_NUMBERS[word.group(1).lower()] * _UNIT_SECONDS[word.group(2).lower()]
    return None


def durations(text: str) -> list[tuple[int, float]]:
    """Every duration in the text: (position, seconds)."""
    found = [
        (m.start(), float(m.group(1)) * _UNIT_SECONDS[m.group(2).lower()]) for m in DURATION.finditer(text)
    ]
    found += [
        (m.start(), WORD_NUMBERS[m.group(1).lower()] * _UNIT_SECONDS[m.group(2).lower()])
        for m in _WORD_DURATION.finditer(text)
    ]
    return sorted(found)


_RANGE = re.compile(rf"(?<![\w.])(\d+(?:\.\d+)?)\s*(?:-|–|—|to)\s*\d+(?:\.\d+)?\s*({_UNITS})(?![a-z])", re.I)


def times_said(text: str) -> list[float]:
    """The durations of a text in seconds, a range ('15-30 min') read as its start, '30+ min' as 30 min."""
    text = re.sub(r"(\d)\s*\+", r"\1", text)
    text = re.sub(r"(\d)\s+(?:more|additional|further|extra)\s+", r"\1 ", text, flags=re.I)
    ranges = [float(m.group(1)) * _UNIT_SECONDS[m.group(2).lower()] for m in _RANGE.finditer(text)]
    if ranges:
        return ranges
    return [t for _, t in durations(text)]


def duration_text(value: float) -> str | None:
    """Seconds as opsbook writes a duration ('5m', '1h'); None if not positive or absurdly long."""
    if not 0 < value <= 3650 * 86400:
        return None
    return format_duration(timedelta(seconds=value))


def severities(text: str) -> list[Severity]:
    """Every P0-P4 named in the text, in order, a range `P0-P2` spelt out."""
    out: list[Severity] = []
    for match in _SEVERITY_RANGE.finditer(text):
        low, high = sorted((int(match.group(1)), int(match.group(2))))
        out += [Severity(f"P{n}") for n in range(low, high + 1)]
    for match in _SEVERITY.finditer(_SEVERITY_RANGE.sub(" ", text)):
        out.append(Severity(f"P{match.group(1)}"))
    seen: list[Severity] = []
    for sev in out:
        if sev not in seen:
            seen.append(sev)
    return seen


def severity(text: str, glossary: dict[str, Severity] | None = None) -> Severity | None:
    """The severity a text names: P0-P4 (SEV1, Severity 2), else a severity word of the glossary."""
    found = severities(text)
    if found:
        return found[0]
    lowered = text.lower()
    for word, sev in (glossary or {}).items():
        if re.search(rf"\b{re.escape(word)}s?\b", lowered):
            return sev
    return None


@dataclass(frozen=True)
class Threshold:
    op: str
    value: float
    unit: str
    """'%', 'ms', 's' … or '' for a bare number."""


_OPS = [
    (r">=|≥|at least|or more|and above|and up", ">="),
    (r"<=|≤|at most|or less|and below", "<="),
    (r">|above|over|exceeds?|exceeding|more than|greater than|higher than|beyond|reaches|hits|passes", ">"),
    (r"<|below|under|less than|lower than|drops? below|falls? below|fewer than", "<"),
]
_NUMBER = r"(-?\d{1,3}(?:,\d{3})+(?![\d.])|-?\d+(?:[.,]\d+)?)"
_NUMBER += r"\s*(%|percent|ms|milliseconds?|msec|s|secs?|seconds?|gb|mb|tb|k)?(?![\w.])"
_THRESHOLDS = [(re.compile(rf"(?:{words})\s*{_NUMBER}", re.IGNORECASE), op) for words, op in _OPS]
_TRAILING = [  # "85% or more", "3 and above": the words after the number
    (re.compile(rf"(?<![\w.]){_NUMBER}\s*(?:or more|and above|and up|or higher)\b", re.IGNORECASE), ">="),
    (re.compile(rf"(?<![\w.]){_NUMBER}\s*(?:or less|and below|or lower)\b", re.IGNORECASE), "<="),
]
_LONG_UNITS = "|".join(sorted((u for u in _UNIT_SECONDS if _UNIT_SECONDS[u] >= 60), key=len, reverse=True))
_HOLD_UNITS = "|".join(sorted((u for u in _UNIT_SECONDS if _UNIT_SECONDS[u] >= 1), key=len, reverse=True))
_NUMBER_WORD = rf"(?:\d+(?:\.\d+)?|{'|'.join(WORD_NUMBERS)})"
_FOR = re.compile(
    # "over 500 ms" is a threshold; "over 10 minutes" is a window: only minutes and longer follow "over"
    rf"(?:\b(?:for|during|sustained(?: for)?|lasting|in the last|in)\s+(?:more than\s+|at least\s+)?"
    rf"{_NUMBER_WORD}\s*\+?\s*(?:{_HOLD_UNITS})"
    rf"|\b(?:over the last|over)\s+{_NUMBER_WORD}\s*(?:{_LONG_UNITS})"
    rf"|\(\s*{_NUMBER_WORD}\s*(?:{_LONG_UNITS})\s*\)"
    rf"|\b{_NUMBER_WORD}\s*(?:{_LONG_UNITS})\s+sustained)(?![a-z])",
    re.IGNORECASE,
)


def hold_duration(text: str) -> float | None:
    """How long a condition must hold: 'for 5 minutes', 'over 10m', 'sustained 2 min'."""
    match = _FOR.search(text)
    return seconds(match.group(0).replace("+", "")) if match else None


def threshold(text: str) -> Threshold | None:
    """The first comparison with a number in the text, durations of holding removed first."""
    body = _FOR.sub(" ", text)
    best: tuple[int, Threshold] | None = None
    for pattern, op in _THRESHOLDS:
        match = pattern.search(body)
        if match and (best is None or match.start() < best[0]):
            best = (match.start(), _threshold(op, match.group(1), match.group(2)))
    for pattern, op in _TRAILING:
        match = pattern.search(body)
        if match and (best is None or match.start() < best[0]):
            best = (match.start(), _threshold(op, match.group(1), match.group(2)))
    return best[1] if best else None


def _threshold(op: str, number: str, unit: str | None) -> Threshold:
    unit = (unit or "").lower()
    unit = {
        "percent": "%",
        "milliseconds": "ms",
        "millisecond": "ms",
        "msec": "ms",
        "sec": "s",
        "secs": "s",
        "second": "s",
        "seconds": "s",
    }.get(unit, unit)
    if re.fullmatch(r"-?\d{1,3}(,\d{3})+", number):
        number = number.replace(",", "")  # 1,000: thousands
    return Threshold(op, float(number.replace(",", ".")), unit)


def number_text(value: float) -> str:
    """12.0 → '12', 0.5 → '0.5'."""
    return str(int(value)) if value == int(value) else f"{value:g}"


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY = re.compile(
    r"\b(mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)(?:day|sday|nesday|rsday|urday)?s?\b", re.IGNORECASE
)
_CRON_DAY = {"mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 0}


def weekdays(text: str) -> list[int]:
    """Weekdays named in the text as cron numbers (0 = Sunday); 'weekdays' → 1-5, 'weekends' → 6, 0;
    a range 'Mon-Fri' spelt out."""
    lowered = text.lower()
    if re.search(r"\bweekdays?\b|\bbusiness days?\b|\bworking days\b", lowered):
        return [1, 2, 3, 4, 5]
    if re.search(r"\bweekends?\b", lowered):
        return [6, 0]
    range_match = re.search(rf"{_DAY.pattern}\s*(?:-|–|to|through)\s*{_DAY.pattern}", text, re.IGNORECASE)
    if range_match:
        first, last = _CRON_DAY[range_match.group(1)[:3].lower()], _CRON_DAY[range_match.group(2)[:3].lower()]
        order = [1, 2, 3, 4, 5, 6, 0]
        i, j = order.index(first), order.index(last)
        return order[i : j + 1] if i <= j else order[i:] + order[: j + 1]
    found: list[int] = []
    for match in _DAY.finditer(text):
        day = _CRON_DAY[match.group(1)[:3].lower()]
        if day not in found:
            found.append(day)
    return found


_CLOCK = r"(\d{1,2})(?:[:.h](\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)?"
_TIME_RANGE = re.compile(
    rf"(?<![\d:])(?:between\s+)?{_CLOCK}\s*(?:-|–|—|to|until|till|and)\s*{_CLOCK}(?![\d%])", re.IGNORECASE
)
_AT_TIME = re.compile(rf"\b(?:at|from|by|@)\s+{_CLOCK}(?![\d%])", re.IGNORECASE)


def time_range(text: str) -> tuple[int, int] | None:
    """A range of clock times as minutes after midnight: '2-4 AM' → (120, 240), '22:00–23:30'."""
    for match in _TIME_RANGE.finditer(text):
        h1, m1, p1, h2, m2, p2 = match.groups()
        if not (m1 or m2 or p1 or p2):
            continue  # '2-4' alone is not a time of day
        p1 = p1 or p2
        start, end = _minutes(h1, m1, p1), _minutes(h2, m2, p2)
        if start is not None and end is not None:
            return start, end
    return None


def clock_time(text: str) -> int | None:
    """A single time of day ('at 9am', 'at 09:00') as minutes after midnight."""
    for match in _AT_TIME.finditer(text):
        hour, minute, meridiem = match.groups()
        if minute or meridiem:
            return _minutes(hour, minute, meridiem)
    return None


def _minutes(hour: str, minute: str | None, meridiem: str | None) -> int | None:
    h, m = int(hour), int(minute or 0)
    if meridiem:
        if not 1 <= h <= 12:
            return None
        h = h % 12 + (12 if meridiem.lower().startswith("p") else 0)
    if h > 24 or m > 59 or (h == 24 and m):
        return None
    return h * 60 + m


_ZONE = re.compile(
    r"\b((?:Africa|America|Asia|Atlantic|Australia|Europe|Indian|Pacific)/[A-Za-z_]+"
    r"(?:/[A-Za-z_]+)?)\b"
)
_ABBREVIATIONS = {
    "utc": "UTC",
    "gmt": "UTC",
    "z": "UTC",
    "cet": "Europe/Paris",
    "cest": "Europe/Paris",
    "bst": "Europe/London",
    "est": "America/New_York",
    "edt": "America/New_York",
    "et": "America/New_York",
    "pst": "America/Los_Angeles",
    "pdt": "America/Los_Angeles",
    "pt": "America/Los_Angeles",
    "cst": "America/Chicago",
    "ist": "Asia/Kolkata",
    "jst": "Asia/Tokyo",
    "aest": "Australia/Sydney",
}


def time_zone(text: str) -> tuple[str, str] | None:
    """An IANA zone named in the text, or one for an abbreviation: (zone, the words it was read from)."""
    match = _ZONE.search(text)
    if match:
        return match.group(1), match.group(1)
    for word in re.findall(r"\b[A-Za-z]{1,4}\b", text):
        if word.isupper() and word.lower() in _ABBREVIATIONS:
            return _ABBREVIATIONS[word.lower()], word
    return None


def slug(text: str, fallback: str = "item") -> str:
    """A name opsbook accepts (lower case, digits, '-' and '_'; at most 64 characters)."""
    value = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:48].strip("-")
    return value or fallback


def env_name(text: str) -> str:
    """An environment variable name from words: 'engineering lead' → 'ENGINEERING_LEAD'."""
    value = re.sub(r"[^A-Z0-9]+", "_", text.upper()).strip("_")[:48].strip("_")
    if not value or value[0].isdigit():
        value = f"V_{value}"
    return value
