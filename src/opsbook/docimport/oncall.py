"""On-call rotations, the people in them, and escalation paths.

"Primary on-call rotates weekly among Ana, Ben and Chen, handing off Mondays at 09:00 Europe/Berlin" →
a schedule; "[3 people]" on call → three placeholder users; an escalation path, as a numbered list of
roles ("1. Page on-call engineer", "2. Page engineering lead if still not resolved in 10 minutes") or as
sentences ("if the primary does not acknowledge within 15 minutes, page the secondary"), → an escalation
policy whose levels page in turn. Times in the document count from the start of the incident ("in 30
minutes"); a level's `after` is the time until the next one.
"""

from __future__ import annotations

import re
from itertools import pairwise

from opsbook.docimport import placeholders
from opsbook.docimport.model import Draft, Level, Policy, Schedule, User
from opsbook.docimport.statements import Statement
from opsbook.docimport.words import (
    WEEKDAYS,
    clock_time,
    duration_text,
    durations,
    env_name,
    seconds,
    slug,
    time_range,
    time_zone,
    times_said,
    weekdays,
)

_ROTATION = re.compile(r"rotat|rotation|on[- ]?call schedule|hand ?off|hand(?:s|ing)? over|handover", re.I)
_TURN = [
    (re.compile(r"\b(bi-?weekly|fortnight\w*|every (two|2) weeks)\b", re.I), "2w"),
    (
        re.compile(
            r"\bweekly\b|\bevery week\b|\beach week\b|\bper week\b"
            r"|\bevery (mon|tues|wednes|thurs|fri|satur|sun)day\b",
            re.I,
        ),
        "1w",
    ),
    (re.compile(r"\bdaily\b|\bevery day\b|\beach day\b", re.I), "1d"),
]
_NAMES = re.compile(
    r"(?:\b(?:among|between|amongst|of)|:)\s+((?:[A-Z][a-z]+(?:\s[A-Z][a-z]+)?\s*(?:,|and|&)\s*)+"
    r"[A-Z][a-z]+(?:\s[A-Z][a-z]+)?)"
)
_ESCALATION = re.compile(r"escalat", re.I)
_VERB = re.compile(
    r"(?<![-\w])(?:page|escalate to|call|phone|wake(?: up)?|notify|contact|alert|ping|loop in|bring in)\s+"
    r"(?:the\s+|an?\s+|our\s+)?",
    re.I,
)
_STOP = re.compile(r"\s+(?:if|when|after|within|in|via|by|on|at|until|who|and then|then)\b|[,;:(.]|$", re.I)
_TIER = re.compile(r"tier|level|step|stage|escalation|^\d+$", re.I)
_ON_CALL = re.compile(r"\bon[- ]?call\b|\bprimary\b|\bresponder\b", re.I)
_NOT_ACK = re.compile(
    r"\b(?:if|when)\s+(?:the\s+)?([\w\- ]{2,40}?)\s+(?:does not|doesn't|don't|did not|has not|"
    r"hasn't|fails to|cannot|can't|is not|isn't)\b",
    re.I,
)


def recognise(statements: list[Statement], draft: Draft) -> None:
    for index, statement in enumerate(statements):
        if statement.kind == "row" and statement.cells and index not in draft.fates:
            _contact(index, statement, draft)
    _rotation_table(statements, draft)
    for index, statement in enumerate(statements):
        if statement.kind in ("item", "text", "row", "line") and index not in draft.fates:
            _rotation(index, statements, draft)
    for index, statement in enumerate(statements):
        count = placeholders.count(statement.full)
        if count and _ON_CALL.search(statement.full) and index not in draft.fates:
            _people_placeholder(index, statement, count, draft)
    _escalation(statements, draft)


_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def _rotation_table(statements: list[Statement], draft: Draft) -> None:
    """| Week of | Primary | Secondary |: the people of each column in turn; the first week its start."""
    blocks: dict[int, list[int]] = {}
    for index, statement in enumerate(statements):
        if (
            statement.kind == "row"
            and statement.cells
            and index not in draft.fates
            and any(
                re.fullmatch(r"\s*(primary|secondary)(\s+on[- ]?call)?\s*", title, re.I)
                for title in statement.header
            )
        ):
            blocks.setdefault(statement.block, []).append(index)
    for indexes in blocks.values():
        if len(indexes) < 2:
            continue
        rows = [statements[i] for i in indexes]
        for column, title in enumerate(rows[0].header):
            role = re.match(r"\s*(primary|secondary)", title, re.I)
            if not role or role.group(1).lower() in draft.schedules:
                continue
            people = [r.cells[column] for r in rows if column < len(r.cells) and r.cells[column].strip()]
            names: list[str] = []
            for person in people:
                name = _user(draft, person, rows[0], person)
                if name not in names:
                    names.append(name)
            schedule = Schedule(
                rows[0], name=role.group(1).lower(), users=names, turn="1w", timezone=draft.timezone or "UTC"
            )
            start = _date(rows[0].cells[0]) if rows[0].cells else None
            schedule.start = start or draft.variable(
                "ONCALL_START_DATE", "the date the rotation begins, YYYY-MM-DD", rows[0]
            )
            schedule.notes.append("one row a week (weekly turns), in the table's order")
            draft.schedules[schedule.name] = schedule
        for i in indexes:
            draft.mark(i, statements[i], "mapped", "a week of the on-call rotation table")


def _date(text: str) -> str | None:
    """'2026-01-05', 'Jan 5, 2026', '5 Jan 2026' → '2026-01-05'."""
    iso = re.search(r"\b(\d{4})-(\d{2})-(\d{2})\b", text)
    if iso:
        return iso.group(0)
    words = re.search(
        r"\b([A-Za-z]{3})[a-z]*\.?\s+(\d{1,2}),?\s+(\d{4})\b|\b(\d{1,2})\s+([A-Za-z]{3})[a-z]*\.?\s+(\d{4})\b",
        text,
    )
    if not words:
        return None
    month, day, year = (
        (words.group(1), words.group(2), words.group(3))
        if words.group(1)
        else (words.group(5), words.group(4), words.group(6))
    )
    if month.lower() not in _MONTHS or not 1 <= int(day) <= 31:
        return None
    return f"{int(year):04d}-{_MONTHS.index(month.lower()) + 1:02d}-{int(day):02d}"


_PEOPLE_LABEL = re.compile(
    r"^(people|engineers|members|team|roster|who|rotation members|on-?call engineers)$", re.I
)
_COVERAGE_LABEL = re.compile(r"coverage|hours|covered|on-?call hours", re.I)


def _rotation(index: int, statements: list[Statement], draft: Draft) -> None:
    statement = statements[index]
    text = statement.full
    where = " ".join((text, statement.context, *statement.section))
    if not (_ROTATION.search(text) and re.search(r"on[- ]?call|rotat|shift", where, re.I)):
        return
    turn = next((value for pattern, value in _TURN if pattern.search(text)), None)
    every = re.search(r"every\s+(\d+)\s+(day|week)s?", text, re.I)
    if every:
        turn = f"{every.group(1)}{every.group(2)[0].lower()}"
    names = _names(text)
    people = [
        (i, s)
        for i, s in _siblings(index, statements)
        if _PEOPLE_LABEL.match(s.label) and _names(": " + s.text)
    ]
    if turn is None and not names and not people:
        return
    name = (
        "secondary"
        if re.search(r"\bsecondary\b", text, re.I) and not re.search(r"\bprimary\b", text, re.I)
        else ("primary")
    )
    if name in draft.schedules:
        return
    schedule = Schedule(statement, name=name, turn=turn or "1w")
    if turn is None:
        schedule.notes.append("the document names no turn length: weekly assumed")
    _handoff(schedule, text, draft, statement)
    _coverage(schedule, text)
    for other, sibling in _siblings(index, statements):
        if not names and _PEOPLE_LABEL.match(sibling.label) and _names(": " + sibling.text):
            names = _names(": " + sibling.text)
            draft.mark(other, sibling, "mapped", f"the people of schedule {name}")
        elif _COVERAGE_LABEL.search(sibling.label) and _coverage(schedule, sibling.text):
            draft.mark(other, sibling, "mapped", f"the hours schedule {name} covers")
    for person in names:
        _user(draft, person, statement, person)
    schedule.users = [slug(person) for person in names]
    schedule.start = draft.variable(
        "ONCALL_START_DATE", "the date the rotation begins, YYYY-MM-DD", statement
    )
    draft.schedules[name] = schedule
    draft.mark(index, statement, "mapped", f"schedule {name}: {len(names)} people, turns of {schedule.turn}")


def _siblings(index: int, statements: list[Statement]) -> list[tuple[int, Statement]]:
    """Statements under the same heading of the same file."""
    here = statements[index]
    return [
        (i, s)
        for i, s in enumerate(statements)
        if i != index and s.file == here.file and s.section == here.section and s.kind != "heading"
    ]


def _handoff(schedule: Schedule, text: str, draft: Draft, statement: Statement) -> None:
    day = weekdays(text)
    at = clock_time(text)
    if at is None:
        at = _hour_word(text)
    if at is None:
        bare = re.search(r"(?<![\d:])([01]?\d|2[0-3]):([0-5]\d)(?![\d:])", text)
        at = int(bare.group(1)) * 60 + int(bare.group(2)) if bare else None
    if at is not None:
        clock = f"{at // 60:02d}:{at % 60:02d}"
        if day and schedule.turn.endswith("w"):
            schedule.handoff = f"{WEEKDAYS[(day[0] - 1) % 7]} {clock}"
        else:
            schedule.handoff = clock
    zone = time_zone(text) or time_zone(statement.context)
    schedule.timezone = zone[0] if zone else (draft.timezone or "UTC")
    if not zone:
        schedule.notes.append(f"no time zone named: {schedule.timezone}")


def _coverage(schedule: Schedule, text: str) -> bool:
    """Coverage hours ('weekdays 8am-8pm') as the layer's restriction; True if the text gave some."""
    span = time_range(text)
    if span is None or re.search(r"24\s*/\s*7", text):
        return False
    days = weekdays(text.split("hand")[0]) or [1, 2, 3, 4, 5, 6, 0]
    schedule.restrictions.append(
        {"days": [WEEKDAYS[(d - 1) % 7][:3] for d in days], "from": _clock(span[0]), "to": _clock(span[1])}
    )
    return True


def _hour_word(text: str) -> int | None:
    match = re.search(r"\b(\d{1,2})(?::(\d{2}))?\s*(am|pm)\b", text, re.I)
    if not match:
        return None
    hour = int(match.group(1)) % 12 + (12 if match.group(3).lower() == "pm" else 0)
    return hour * 60 + int(match.group(2) or 0)


def _clock(minutes: int) -> str:
    return "24:00" if minutes >= 1440 else f"{minutes // 60:02d}:{minutes % 60:02d}"


def _names(text: str) -> list[str]:
    match = _NAMES.search(text)
    if not match:
        return []
    parts = re.split(r"\s*(?:,|\band\b|&)\s*", match.group(1))
    return [p.strip() for p in parts if p.strip() and p.strip()[0].isupper()]


_EMAIL = re.compile(r"^[\w.+-]+@[\w-]+(\.[\w-]+)+$")


def _contact(index: int, statement: Statement, draft: Draft) -> None:
    """A row of a contacts table (Name | Role | Email | Phone): a user, and the role they hold."""
    columns = {title.lower(): cell for title, cell in zip(statement.header, statement.cells, strict=False)}
    name = next(
        (cell for title, cell in columns.items() if re.search(r"\bname\b|person|engineer|who", title)), ""
    )
    reach = [
        cell for title, cell in columns.items() if re.search(r"e-?mail|phone|mobile|slack|contact", title)
    ]
    if not name or not reach or not re.match(r"^[A-Z][\w'-]+( [A-Z][\w'-]+)*$", name):
        return
    user = _user(draft, name, statement, name)
    email = next((cell for cell in reach if _EMAIL.match(cell)), "")
    if email and not draft.users[user].email:
        draft.users[user].email = email
    role = next(
        (cell for title, cell in columns.items() if re.search(r"role|title|position|responsib", title)), ""
    )
    if role:
        draft.roles.setdefault(slug(role), user)
    draft.mark(index, statement, "mapped", f"user {user}" + (f" ({role})" if role else ""))


def _user(draft: Draft, role: str, statement: Statement | None, full_name: str = "") -> str:
    held = draft.roles.get(slug(role))
    if held:
        return held  # the contacts table names who holds the role
    name = slug(role, "someone")
    if name not in draft.users:
        contact = draft.variable(
            f"{env_name(name)}_CONTACT",
            f"an Apprise URL reaching {role} (mailto://…, an SMS gateway, a Slack DM)",
            statement,
        )
        draft.users[name] = User(statement, name=name, full_name=full_name, contact=contact)
    return name


def _people_placeholder(index: int, statement: Statement, count: int, draft: Draft) -> None:
    role = "on-call engineer"
    names = [_user(draft, f"{role} {n}", statement) for n in range(1, count + 1)]
    if "primary" not in draft.schedules:
        draft.schedules["primary"] = Schedule(
            statement,
            ["the document names no turn length: weekly assumed"],
            name="primary",
            users=names,
            turn="1w",
            timezone=draft.timezone or "UTC",
            start=draft.variable("ONCALL_START_DATE", "the date the rotation begins, YYYY-MM-DD", statement),
        )
    draft.mark(index, statement, "mapped", f"{count} on-call users ({', '.join(names)}) in schedule primary")


def _escalation(statements: list[Statement], draft: Draft) -> None:
    """Every block of escalation statements; the first with levels becomes the policy `default`."""
    for indexes in _escalation_blocks(statements, draft).values():
        found = [(i, _steps(statements[i])) for i in indexes]
        paging = any(durations(statements[i].text) or _VERB.search(statements[i].text) for i in indexes)
        levels = [
            Level(statements[i], target=role, at_seconds=at if at is not None else -1)
            for i, steps in found
            for role, at in steps
        ]
        if (
            levels
            and paging
            and all(lv.at_seconds > 0 for lv in levels)
            and not any(_ON_CALL.search(lv.target) for lv in levels)
        ):
            levels.insert(
                0,
                Level(
                    statements[indexes[0]],
                    ["the document names nobody before the first escalation: the on-call is paged first"],
                    target="on-call",
                    at_seconds=0.0,
                ),
            )
        if not paging or len(levels) < 2:
            continue
        first = statements[indexes[0]]
        name = (
            "default" if "default" not in draft.policies else slug(first.context or first.heading(), "policy")
        )
        if name in draft.policies:
            continue
        draft.policies[name] = Policy(first, name=name, levels=_ordered(levels, draft))
        for i, steps in found:
            if steps:
                targets = ", ".join(_target(role, draft, statements[i]) for role, _ in steps)
                draft.mark(i, statements[i], "mapped", f"escalation policy {name}: {targets}")


def _escalation_blocks(statements: list[Statement], draft: Draft) -> dict[int, list[int]]:
    """Statements about escalation, by the block (list, table, paragraph) they stand in."""
    blocks: dict[int, list[int]] = {}
    for index, statement in enumerate(statements):
        if statement.kind not in ("item", "text", "line", "row") or index in draft.fates:
            continue
        if statement.kind == "row" and not statement.cells:
            continue
        where = " ".join((statement.context, statement.label, *statement.section[-2:]))
        if _ESCALATION.search(where) or _ESCALATION.search(statement.text) or _NOT_ACK.search(statement.text):
            blocks.setdefault(statement.block, []).append(index)
    return blocks


def _steps(statement: Statement) -> list[tuple[str, float | None]]:
    """(role, when it is paged, seconds from the start or None) for each role a statement pages."""
    if statement.kind == "row":
        return _row_step(statement)
    text = re.sub(r"\([^)\d]*\)", " ", statement.text)  # asides, not "(after 20 minutes)"
    if re.search(r"→|->|⇒|=>", text):
        return [step for clause in re.split(r";|\.\s", text) for step in _chain(clause)]
    listed = statement.ordinal is not None or bool(_TIER.search(statement.label))
    out: list[tuple[str, float | None]] = []
    for clause in re.split(r";|\.\s|,?\s+then\s+", text):
        waiting = _NOT_ACK.search(clause)
        if waiting and not out:
            out.append((waiting.group(1).strip(), 0.0))
        role = _role_in(clause, listed)
        if not role:
            continue
        times = times_said(clause)
        at = times[-1] if times else None
        if at is not None and out and out[-1][1] is not None and _MORE.search(clause):
            at += out[-1][1] or 0.0  # "after 20 more minutes": counted from the level before
        out.append((role, at))
    return out


_MORE = re.compile(r"\b(more|another|additional|further)\b", re.I)
_PASSIVE = re.compile(
    r"(?:the\s+|our\s+)?([\w\- ]{2,40}?)\s+(?:is|are|gets?|will be)\s+(?:paged|called|notified|"
    r"alerted|woken|contacted|escalated to)\b",
    re.I,
)
_ROLES = re.compile(
    r"\b((?:primary|secondary|backup)(?: on[- ]?call)?(?: engineer)?|on[- ]?call(?: engineer)?|"
    r"(?:engineering|team|tech|platform|dev|ops|product)?\s*(?:lead|manager|director)|"
    r"head of [a-z]+|vp(?: of)? [a-z]+|cto|ceo|ciso|founders?|dba|incident commander|"
    r"[a-z]+ team)\b",
    re.I,
)


def _role_in(clause: str, listed: bool) -> str:
    """Who a clause pages: after a paging verb, before 'is paged', a known role, or a list item's start."""
    verb = _VERB.search(clause)
    passive = _PASSIVE.search(clause)
    known = _ROLES.search(clause)
    if verb:
        role = _STOP.split(clause[verb.end() :], maxsplit=1)[0]
    elif passive:
        role = passive.group(1)
    elif known and (listed or _ESCALATION.search(clause) or times_said(clause)):
        role = known.group(1)
    elif listed:
        role = _STOP.split(clause.strip(), maxsplit=1)[0]
    else:
        return ""
    role = re.sub(r"^(the|an?|our)\s+", "", role.strip(), flags=re.I).strip(" —–-:")
    return role if role and len(role) <= 40 and not placeholders.bracketed(role) else ""


def _chain(text: str) -> list[tuple[str, float | None]]:
    """'primary on-call → engineering manager (15 min) → CTO (45 min)': a role and its time per link."""
    out: list[tuple[str, float | None]] = []
    links = re.split(r"\s*(?:→|->|⇒|=>)\s*", text.strip())
    if (
        len(links) == 2
        and times_said(links[0])
        and not _ROLES.search(links[0])
        and not _VERB.search(links[0])
    ):
        role = _role_in(links[1], True)  # "after 15 min → team lead": a time, then who
        return [(role, times_said(links[0])[-1])] if role else []
    for link in links:
        times = times_said(link)
        verb = _VERB.search(link)
        role = _STOP.split(link[verb.end() :] if verb else link.strip(), maxsplit=1)[0].strip()
        role = re.sub(r"^(the|an?|our)\s+", "", role, flags=re.I).strip()
        if role and len(role) <= 40 and not placeholders.bracketed(role):
            out.append((role, times[-1] if times else None))
    return out


def _row_step(statement: Statement) -> list[tuple[str, float | None]]:
    """A row of an escalation table: who (the column naming people or roles) and when (a time column)."""
    who, when = "", ""
    for title, cell in zip(statement.header, statement.cells, strict=False):
        if re.search(r"who|target|contact|person|role|page|escalate|name|notify", title, re.I) and not who:
            who = cell
        elif re.search(r"after|time|when|wait|delay|minutes", title, re.I) and not when:
            when = cell
    if not who or placeholders.bracketed(who):
        return []
    at = seconds(when) if when else None
    if at is None and when.strip() in ("0", "immediately", "at once", "-"):
        at = 0.0
    return [(who, at)]


def _target(role: str, draft: Draft, source: Statement | None = None) -> str:
    if re.search(r"secondary", role, re.I):
        return (
            "schedule:secondary" if "secondary" in draft.schedules else f"user:{_user(draft, role, source)}"
        )
    if _ON_CALL.search(role):
        return f"schedule:{_primary(draft, source)}"
    return f"user:{_user(draft, role, source)}"


def primary_schedule(draft: Draft, source: Statement | None) -> str:
    """The on-call schedule (a placeholder one if the document names no rotation)."""
    return _primary(draft, source)


def _primary(draft: Draft, source: Statement | None) -> str:
    if "primary" not in draft.schedules:
        name = _user(draft, "on-call engineer", source)
        draft.schedules["primary"] = Schedule(
            source,
            ["the document names no rotation: one placeholder user, weekly turns assumed"],
            name="primary",
            users=[name],
            turn="1w",
            timezone=draft.timezone or "UTC",
            start=draft.variable("ONCALL_START_DATE", "the date the rotation begins, YYYY-MM-DD", source),
        )
    return "primary"


_LONGEST = 366 * 86400.0


def _ordered(levels: list[Level], draft: Draft) -> list[Level]:
    """Levels in paging order, times filled (an unknown first time is 0), equal times merged."""
    merged: list[Level] = []
    last = 0.0
    for level in levels:
        if level.at_seconds > _LONGEST:
            level.notes.append("a time longer than a year is no escalation: read as unknown")
            level.at_seconds = -1
        at = level.at_seconds if level.at_seconds >= 0 else (last if merged else 0.0)
        level.target = _target(level.target, draft, level.source)
        if merged and at == merged[-1].at_seconds:
            if level.target not in merged[-1].target.split(","):
                merged[-1].target += "," + level.target
            continue
        if merged and at < merged[-1].at_seconds:
            level.notes.append("an earlier time than the level before it: paged right after it")
            at = merged[-1].at_seconds
        level.at_seconds = at
        merged.append(level)
        last = at
    for level, following in pairwise(merged):
        gap = following.at_seconds - level.at_seconds
        if gap <= 0:
            following.notes.append("no time given: 5 minutes after the level before it assumed")
            shift = 300.0
            following.at_seconds = level.at_seconds + shift
    return merged


def level_after(levels: list[Level], position: int) -> str | None:
    """A level's `after`: the time until the next level is paged."""
    if position + 1 >= len(levels):
        return None
    return duration_text(levels[position + 1].at_seconds - levels[position].at_seconds)
