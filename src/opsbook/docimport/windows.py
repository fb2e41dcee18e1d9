"""Recurring maintenance windows: "Sundays 2-4 AM UTC", "every Saturday 22:00–23:30 Europe/Berlin",
"nightly 03:00-03:30" in a statement about maintenance → cron + duration + time zone. A window about the
database mutes the database's service; any other mutes every service."""

from __future__ import annotations

import re

from opsbook.docimport.model import Draft, Window
from opsbook.docimport.statements import Statement
from opsbook.docimport.words import WEEKDAYS, duration_text, slug, time_range, time_zone, weekdays

_MAINTENANCE = re.compile(r"maintenance|downtime window|change window|patch window", re.I)
_DAILY = re.compile(r"\b(daily|nightly|every (day|night))\b", re.I)
_ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4}
_NTH = re.compile(r"\b(first|1st|second|2nd|third|3rd|fourth|4th)\s+\w+day\b", re.I)
_MONTHLY = re.compile(r"\b(monthly|each month|every month|of the month|last \w+day)\b", re.I)
_DATABASE = re.compile(r"database|\bdb\b|postgres\w*|migration|vacuum|index", re.I)


def recognise(statements: list[Statement], draft: Draft) -> None:
    for index, statement in enumerate(statements):
        if statement.kind not in ("item", "text", "row", "line", "heading") or index in draft.fates:
            continue
        text = statement.full
        where = " ".join((text, statement.context, *statement.section[-2:]))
        if _FREEZE.search(text) or (_FREEZE.search(where) and statement.kind != "heading"):
            _freeze(index, statement, draft)
            continue
        if not _MAINTENANCE.search(where):
            continue
        window = _window(text, statement, draft)
        if window is not None:
            draft.windows.append(window)
            draft.mark(
                index,
                statement,
                "mapped",
                f"maintenance window {window.name}: cron '{window.cron}' "
                f"for {window.duration} ({window.timezone})",
            )


_FREEZE = re.compile(
    r"\b(change|deploy\w*) freeze|\bno (deploy\w*|releases?|changes)\b|\b(don't|do not|never) "
    r"(deploy|release)",
    re.I,
)
_AFTER = re.compile(r"\b(?:after|from)\s+(\d{1,2})(?::(\d{2}))?\s*(am|pm)?(?![\d:])", re.I)


def _freeze(index: int, statement: Statement, draft: Draft) -> None:
    """'No deploys on Fridays after 15:00' → a deploy freeze (to the end of the day, said so)."""
    text = statement.full
    notes: list[str] = []
    span = time_range(text)
    after = _AFTER.search(text)
    if span is None and after:
        hour, meridiem = int(after.group(1)), (after.group(3) or "").lower()
        if meridiem:
            hour = hour % 12 + (12 if meridiem == "pm" else 0)
        span = (hour * 60 + int(after.group(2) or 0), 1440)
        notes.append("'after' read as until the end of the day")
    window = _window(text, statement, draft, span, "freeze")
    if window is None:
        return
    window.notes = notes + [n for n in window.notes if "covers" not in n]
    draft.freezes.append(window)
    draft.mark(
        index, statement, "mapped", f"deploy freeze {window.name}: cron '{window.cron}' for {window.duration}"
    )


def _window(
    text: str,
    statement: Statement,
    draft: Draft,
    span: tuple[int, int] | None = None,
    kind: str = "maintenance",
) -> Window | None:
    span = span or time_range(text)
    days = weekdays(text)
    if span is None or not (days or _DAILY.search(text)):
        return None
    start, end = span
    length = (end - start) % 1440 or 1440
    duration = duration_text(length * 60)
    if duration is None:
        return None
    zone = time_zone(text)
    notes = [] if zone else [f"no time zone named: {draft.timezone or 'UTC'}"]
    day_field = ",".join(str(d) for d in sorted(days)) if days else "*"
    nth = _NTH.search(text)
    if nth and len(days) == 1:  # "the first Sunday of each month": croniter's day#n
        day_field = f"{days[0]}#{_ORDINALS[nth.group(1).lower()]}"
    elif nth or _MONTHLY.search(text):
        return None  # a monthly rhythm this cannot say exactly: reported, not guessed
    cron = f"{start % 60} {start // 60 % 24} * * {day_field}"
    named = "-".join(WEEKDAYS[(d - 1) % 7][:3] for d in days) if days else "daily"
    name = slug(f"{kind}-{named}", kind)
    taken = {w.name for w in (draft.windows if kind == "maintenance" else draft.freezes)}
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}-{n}", n + 1
    services: list[str] = []
    where = " ".join((text, statement.label, statement.context, *statement.section))
    if _DATABASE.search(where):
        services = [c.service for c in draft.checks_of_kind("postgres")][:1]
    if not services:
        notes.append("the document does not say what it covers: every service")
    title = statement.label or statement.heading() or "Maintenance"
    return Window(
        statement,
        notes,
        name=candidate,
        title=title,
        cron=cron,
        duration=duration,
        timezone=zone[0] if zone else (draft.timezone or "UTC"),
        services=services,
    )
