"""Secret rotation, backup jobs, the scaling plan and recurring chores: the sections of opsbook.yaml that
the secrets, backups, capacity and chores domains added.

- "JWT Secrets: 90 days", "Redis Password: 180 days (manual rotation)", "Monthly: Rotate database
  passwords" → `secrets:` entries with their rotation period; "Emergency rotation: within 24 hours of
  suspected compromise" → every secret's `emergency_within`. The owner is a placeholder user unless the
  document names one: a secret needs someone to tell.
- A backup table (What | Frequency | Retention | RTO | RPO) or "Nightly at 02:00 UTC, kept for 30 days" →
  `backups:` jobs: schedule, retention, RTO/RPO; the job pings opsbook when done (a heartbeat), which the
  draft marks as assumed since the document cannot say how opsbook learns of a backup. A frequency without
  a time of day becomes a `${…_BACKUP_CRON}` variable.
- "If CPU > 80%: Add more web servers" under a scaling plan → a `capacity:` resource on the check that
  measures it, with the plan's level and action.
- "Monthly: Review access logs" → a chore of its section's procedure for the on-call (the rhythm's day and
  time are assumed and said so); a "Before your on-call shift" checklist → a chore due at each handoff.
"""

from __future__ import annotations

import re
from typing import Any

from opsbook.docimport import checks, oncall
from opsbook.docimport.model import Chore, Draft, Job, Resource, Secret, User
from opsbook.docimport.statements import Statement
from opsbook.docimport.words import clock_time, duration_text, env_name, seconds, slug, threshold, time_zone

_SECRET = re.compile(r"secret|password|credential|\bkeys?\b|token|\bjwt\b|passphrase", re.I)
_PERIOD = [
    (re.compile(r"\bmonthly\b|every month|each month", re.I), 30 * 86400, "monthly read as every 30 days"),
    (
        re.compile(r"\bquarterly\b|every quarter|each quarter", re.I),
        90 * 86400,
        "quarterly read as every 90 days",
    ),
    (
        re.compile(r"\b(yearly|annually)\b|every year|each year", re.I),
        365 * 86400,
        "yearly read as every 365 days",
    ),
    (re.compile(r"\bweekly\b|every week", re.I), 7 * 86400, ""),
]
_NOT_ROTATED = re.compile(r"not rotated|never rotated|no rotation", re.I)


def recognise(statements: list[Statement], draft: Draft) -> None:
    for index, statement in enumerate(statements):
        if index in draft.fates or statement.kind not in ("item", "text", "row", "line"):
            continue
        if statement.kind == "row" and not statement.cells:
            continue
        _secret(index, statement, draft) or _backup(index, statement, draft) or _plan(index, statement, draft)
    _emergency(statements, draft)
    _chores(statements, draft)


_EVERY_CRON = [  # a frequency without a day or time: 09:00, the first day of its period (said so)
    (re.compile(r"^\W*(daily|every day|each day)\b", re.I), "0 9 * * *", "1d", "daily"),
    (re.compile(r"^\W*(weekly|every week|each week)\b", re.I), "0 9 * * 1", "2d", "weekly"),
    (re.compile(r"^\W*(monthly|every month|each month)\b", re.I), "0 9 1 * *", "7d", "monthly"),
    (
        re.compile(r"^\W*(quarterly|every quarter|each quarter)\b", re.I),
        "0 9 1 1,4,7,10 *",
        "14d",
        "quarterly",
    ),
    (re.compile(r"^\W*(yearly|annually|every year|each year)\b", re.I), "0 9 1 1 *", "30d", "yearly"),
]
_SHIFT = re.compile(
    r"before (your |the )?on-?call|start of (your |the )?(on-?call )?shift|on-?call (shift )?checklist", re.I
)


def _chores(statements: list[Statement], draft: Draft) -> None:
    """'Monthly: Review access logs' → a chore of its section's procedure; a 'Before Your On-Call Shift'
    checklist → a chore of the on-call, due at each handoff."""
    for index, statement in enumerate(statements):
        if index in draft.fates or statement.kind not in ("item", "text", "line"):
            continue
        rhythm = next((r for r in _EVERY_CRON if r[0].search(statement.label)), None)
        task = statement.text
        if rhythm is None:
            rhythm = next((r for r in _EVERY_CRON if r[0].search(statement.text)), None)
            said = rhythm[0].search(statement.text) if rhythm else None
            task = statement.text[said.end() :].lstrip(" :,-") if said else ""
        if rhythm is None or not task or not statement.heading():
            continue
        _, cron, within, word = rhythm
        name = _free_name(slug(task, "chore")[:48], {c.fields["name"] for c in draft.chores})
        fields = {
            "name": name,
            "procedure": statement.heading(),
            "schedule": cron,
            "oncall": oncall.primary_schedule(draft, statement),
            "within": within,
        }
        notes = [
            f"{word} read as '{cron}', done within {within}; the procedure is the section's checklist, "
            f"this chore its item '{task}'"
        ]
        draft.chores.append(Chore(statement, notes, fields=fields))
        draft.mark(index, statement, "mapped", f"chore {name}: {cron}")
    _shift_chore(statements, draft)


def _shift_chore(statements: list[Statement], draft: Draft) -> None:
    steps = [
        (i, s)
        for i, s in enumerate(statements)
        if i not in draft.fates and s.kind in ("item", "line") and _SHIFT.search(s.heading())
    ]
    if not steps:
        return
    first = steps[0][1]
    schedule = oncall.primary_schedule(draft, first)
    handoff = draft.schedules[schedule].handoff
    notes = []
    day, _, at = handoff.rpartition(" ") if handoff else ("", "", "")
    if at:
        hour, minute = at.split(":")
        weekday = (oncall.WEEKDAYS.index(day) + 1) % 7 if day in oncall.WEEKDAYS else "*"
        cron = f"{int(minute)} {int(hour)} * * {weekday}"
    else:
        cron = "0 9 * * 1"
        notes.append("the rotation's handoff is not said: Mondays 09:00")
    name = _free_name(slug(first.heading(), "shift"), {c.fields["name"] for c in draft.chores})
    fields = {
        "name": name,
        "procedure": first.heading(),
        "schedule": cron,
        "oncall": schedule,
        "within": "1d",
    }
    draft.chores.append(
        Chore(first, [*notes, "due at each handoff, for whoever comes on call"], fields=fields)
    )
    for index, statement in steps:
        draft.mark(index, statement, "mapped", f"a step of chore {name}")


def _rotation_period(text: str) -> tuple[float, str] | None:
    for pattern, value, note in _PERIOD:
        if pattern.search(text):
            return value, note
    found = seconds(text)
    return (found, "") if found and found >= 86400 else None


def _secret(index: int, statement: Statement, draft: Draft) -> bool:
    where = " ".join((statement.full, statement.context, *statement.section[-2:]))
    if not re.search(r"rotat", where, re.I) or _NOT_ROTATED.search(statement.full):
        return False
    subject = statement.label if _SECRET.search(statement.label) else ""
    if not subject:
        said = re.search(
            r"rotat\w*\s+(?:the\s+|all\s+)?([\w\s-]{2,40}?(?:secrets?|passwords?|credentials?|keys?|"
            r"tokens?))\b",
            statement.text,
            re.I,
        )
        subject = said.group(1) if said else ""
    if not subject or not _SECRET.search(subject):
        return False
    period = _rotation_period(statement.text if statement.label == subject else statement.full)
    every = duration_text(period[0]) if period else None
    if every is None or period is None:
        return False
    name = _free_name(slug(subject, "secret"), {s.name for s in draft.secrets})
    secret = Secret(statement, [period[1]] if period[1] else [], name=name, every=every)
    draft.secrets.append(secret)
    draft.mark(index, statement, "mapped", f"secret {name}: rotated every {every}")
    return True


def _emergency(statements: list[Statement], draft: Draft) -> None:
    """'Emergency rotation: within 24 hours of suspected compromise' → every secret's emergency_within."""
    if not draft.secrets:
        return
    for index, statement in enumerate(statements):
        where = " ".join((statement.full, statement.context))
        if (
            statement.kind in ("item", "text", "line")
            and re.search(r"emergency", where, re.I)
            and re.search(r"compromis|leak|breach|suspect", statement.full, re.I)
        ):
            found = seconds(statement.full)
            if found and index not in draft.fates:
                draft.emergency = (duration_text(found) or "", statement)
                draft.mark(
                    index,
                    statement,
                    "mapped",
                    f"every secret's emergency rotation within {draft.emergency[0]}",
                )
                return


def secret_owner(draft: Draft) -> str:
    """The user told about secrets: a placeholder the team fills in (the document names none)."""
    name = "secrets-owner"
    if name not in draft.users:
        source = draft.secrets[0].source if draft.secrets else None
        contact = draft.variable(
            "SECRETS_OWNER_CONTACT", "an Apprise URL reaching whoever rotates the secrets", source
        )
        draft.users[name] = User(
            source, ["the document names nobody who rotates the secrets"], name=name, contact=contact
        )
    return name


def _backup(index: int, statement: Statement, draft: Draft) -> bool:
    where = " ".join((statement.full, statement.context, *statement.section[-2:]))
    if not re.search(r"backup|snapshot", where, re.I):
        return False
    cells = _backup_cells(statement)
    frequency = cells.get("frequency", statement.full)
    if not re.search(r"\b(hourly|daily|nightly|weekly|every (hour|day|night|week))\b", frequency, re.I):
        return False
    what = cells.get("what") or statement.label
    if not what or re.fullmatch(r"\W*(automated |nightly |daily )?backups?\W*", what, re.I):
        what = "database" if re.search(r"database|\bdb\b|postgres|mysql|rds", where, re.I) else "backup"
    name = _free_name(slug(what, "backup")[:50], {j.fields["name"] for j in draft.jobs})
    schedule, notes = _schedule(frequency, name, draft, statement)
    if schedule is None:
        return False
    fields: dict[str, Any] = {"name": name, "component": what[:100], "schedule": schedule}
    zone = time_zone(frequency)
    if zone:
        fields["timezone"] = zone[0]
    retention = cells.get("retention", statement.full)
    kept = re.search(
        r"(?:kept|keep|retain\w*|retention)[^.;]*?(\d+)[\s-]*(days?|weeks?)|(\d+)[\s-]*(days?|weeks?)\b",
        retention,
        re.I,
    )
    if kept:
        number, unit = (kept.group(1), kept.group(2)) if kept.group(1) else (kept.group(3), kept.group(4))
        fields["retention"] = {"days": int(number) * (7 if unit.lower().startswith("w") else 1)}
    for key in ("rto", "rpo"):
        value = seconds(cells.get(key, "")) if cells.get(key) else None
        if value:
            fields[key] = duration_text(value)
    fields["heartbeat"] = {}
    notes.append("the job pings opsbook when done (heartbeat): how opsbook learns of each backup")
    draft.jobs.append(Job(statement, notes, fields=fields))
    draft.mark(index, statement, "mapped", f"backup job {name}: {schedule}")
    return True


def _backup_cells(statement: Statement) -> dict[str, str]:
    if statement.kind != "row":
        return {}
    out: dict[str, str] = {}
    for position, (title, cell) in enumerate(zip(statement.header, statement.cells, strict=False)):
        lowered = title.lower()
        if re.search(r"frequen|schedule|how often|when|cadence", lowered):
            out["frequency"] = cell
        elif re.search(r"retention|kept|keep", lowered):
            out["retention"] = cell
        elif re.search(r"\brto\b|restore time|recovery time", lowered):
            out["rto"] = cell
        elif re.search(r"\brpo\b|recovery point|data loss", lowered):
            out["rpo"] = cell
        elif position == 0:
            out["what"] = cell
    return out


def _schedule(text: str, what: str, draft: Draft, statement: Statement) -> tuple[str | None, list[str]]:
    """A cron for 'hourly', 'daily', 'nightly at 02:00'; a variable when the document gives no time."""
    at = clock_time(text)
    if at is None:
        bare = re.search(r"(?<![\d:])([01]?\d|2[0-3]):([0-5]\d)(?![\d:])", text)
        at = int(bare.group(1)) * 60 + int(bare.group(2)) if bare else None
    if re.search(r"\bhourly\b|every hour", text, re.I):
        return "0 * * * *", []
    daily = re.search(r"\b(daily|nightly|every (day|night))\b", text, re.I)
    weekly = re.search(r"\bweekly\b|every week", text, re.I)
    if not (daily or weekly):
        return None, []
    if at is not None and daily:
        return f"{at % 60} {at // 60} * * *", []
    variable = draft.variable(
        f"{env_name(what)}_BACKUP_CRON",
        f"cron of the {what} backup job, e.g. 0 2 * * * "
        f"(the document says '{text.strip()[:40]}' but not when)",
        statement,
    )
    return variable, []


_PLAN = re.compile(r"scaling|capacity|scale", re.I)


def _plan(index: int, statement: Statement, draft: Draft) -> bool:
    """'If CPU > 80%: Add more web servers' under a scaling plan → a capacity resource's plan step."""
    where = " ".join((statement.context, *statement.section[-2:]))
    if not _PLAN.search(where) or statement.kind not in ("item", "line"):
        return False
    condition, action = (statement.label, statement.text) if statement.label else ("", "")
    limit = threshold(condition)
    if not action or limit is None or limit.op not in (">", ">=") or limit.unit not in ("%", ""):
        return False
    field = next((f for word, f in _HOST_FIELDS if re.search(word, condition, re.I)), None)
    if field is None or limit.unit != "%":
        return False
    check = checks.host_check(draft, statement)
    resource = next((r for r in draft.resources if r.fields["value"] == field), None)
    if resource is None:
        resource = Resource(
            statement,
            [],
            fields={
                "name": field.removesuffix("_pct"),
                "check": f"{check.service}/{check.name}",
                "value": field,
                "capacity": 100,
                "unit": "%",
                "plan": [],
            },
        )
        draft.resources.append(resource)
    resource.fields["plan"].append({"at": limit.value, "action": action})
    draft.mark(
        index, statement, "mapped", f"capacity {resource.fields['name']}: at {limit.value:g}% {action}"
    )
    return True


_HOST_FIELDS = [
    (r"\bcpu\b", "cpu_pct"),
    (r"memory|\bram\b", "memory_pct"),
    (r"\bdisk\b|storage|volume", "disk_pct"),
]


def _free_name(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}-{n}", n + 1
    return candidate
