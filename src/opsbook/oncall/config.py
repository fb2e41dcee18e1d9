"""The `users:`, `schedules:` and `escalation_policies:` sections of opsbook.yaml.

```yaml
users:
  - name: ana
    full_name: Ana Ruiz
    email: ana@example.com
    timezone: Europe/Berlin
    role: responder
    contacts:
      - url: "slack://${SLACK_TOKEN}/#ops"
        urgency: [P0, P1]
      - url: "mailto://ana@example.com"
        urgency: [P2, P3]
schedules:
  - name: primary
    timezone: Europe/Berlin
    layers:                         # later layers sit on top of earlier ones
      - name: weekly
        users: [ana, ben, chen]
        turn: 1w
        handoff: "monday 09:00"
        start: 2026-01-05
        restrictions: [{days: [mon, tue, wed, thu, fri], from: "09:00", to: "18:00"}]
escalation_policies:
  - name: default
    repeat: 1                       # run the levels once more if nobody acknowledges
    renotify_after: 1h
    levels:
      - targets: [schedule:primary]
        after: 10m
      - targets: [user:lead]
        after: 20m
      - targets: [user:cto]
```

References (a layer's users, a policy's targets) are checked against the other sections by
`check_users`, `check_schedules` and `check_policies`, which `OpsbookConfig` runs on its fields, so an
unknown name is reported at the exact file line of the entry naming it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, time, timedelta
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from opsbook.auth.roles import Role
from opsbook.config.types import Duration, Model, Name, TimeZone
from opsbook.rules.severity import Severity

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_CLOCK = re.compile(r"^([01]?\d|2[0-4]):([0-5]\d)$")
_CLOCK_SCHEMA = {"type": "string", "pattern": r"^([01]?\d|2[0-4]):[0-5]\d$", "examples": ["09:00", "18:00"]}
_HANDOFF_PATTERN = r"^([A-Za-z]+ +)?([01]?\d|2[0-3]):[0-5]\d$"


def parse_weekday(value: Any) -> int:
    """'mon', 'Monday', 'MON' → 0 … 'sun' → 6."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 6:
        return value
    text = str(value).strip().lower()
    if text in _FULL_DAYS:
        return _FULL_DAYS.index(text)
    if text[:3] in WEEKDAYS and _FULL_DAYS[WEEKDAYS.index(text[:3])].startswith(text):
        return WEEKDAYS.index(text[:3])
    raise ValueError(f"{value!r} is not a weekday; use mon, tue, wed, thu, fri, sat or sun")


def parse_clock(value: Any, *, allow_24: bool = False) -> time:
    """'09:00' → time(9, 0); '24:00' (end of day) only where allowed, returned as time.max."""
    if isinstance(value, time):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads an unquoted 09:00 as the sexagesimal number 540
        value = f"{value // 60:02d}:{value % 60:02d}"
    match = _CLOCK.match(str(value).strip())
    if not match:
        raise ValueError(f"{value!r} is not a time of day; write it as HH:MM, e.g. \"09:00\"")
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour == 24:
        if minute or not allow_24:
            raise ValueError(f"{value!r} is not a time of day; hours go from 00 to 23" +
                             (" (24:00 means the end of the day)" if allow_24 else ""))
        return time.max
    return time(hour, minute)


class Handoff(Model):
    """When one turn hands over to the next: a weekday (weekly turns) and a local time of day."""

    weekday: int | None = Field(default=None, ge=0, le=6, description="0 = Monday; None for daily turns.")
    at: time = time(0, 0)

    def __str__(self) -> str:
        day = f"{_FULL_DAYS[self.weekday]} " if self.weekday is not None else ""
        return f"{day}{self.at:%H:%M}"


def _parse_handoff(value: Any) -> Any:
    if isinstance(value, dict | Handoff):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return {"at": parse_clock(value)}
    parts = str(value).split()
    if len(parts) == 1:
        return {"at": parse_clock(parts[0])}
    if len(parts) == 2:
        return {"weekday": parse_weekday(parts[0]), "at": parse_clock(parts[1])}
    raise ValueError(f"{value!r} is not a handoff; write \"monday 09:00\" (weekly turns) or \"09:00\"")


HandoffSpec = Annotated[
    Handoff,
    BeforeValidator(_parse_handoff),
    WithJsonSchema({"type": "string", "pattern": _HANDOFF_PATTERN, "examples": ["monday 09:00", "09:00"]}),
]


ClockTime = Annotated[time, BeforeValidator(parse_clock), WithJsonSchema(_CLOCK_SCHEMA)]
EndClockTime = Annotated[
    time, BeforeValidator(lambda v: parse_clock(v, allow_24=True)), WithJsonSchema(_CLOCK_SCHEMA)
]
Weekday = Annotated[int, BeforeValidator(parse_weekday), WithJsonSchema({"enum": list(WEEKDAYS)})]
"""mon … sun in the file; 0 (Monday) … 6 once loaded."""


class Restriction(Model):
    """A window a layer is limited to: on these days, from one local time to another.

    A window whose `to` is not after its `from` runs overnight into the next day ("18:00" to "09:00").
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    days: list[Weekday] = Field(
        default_factory=lambda: list(range(7)), description="Days the window starts on (mon … sun)."
    )
    start: ClockTime = Field(alias="from", description="HH:MM, local.")
    end: EndClockTime = Field(
        alias="to", description="HH:MM local time; 24:00 is the end of the day."
    )

    @property
    def length(self) -> timedelta:
        """How long each window lasts (wall-clock), a full day when from == to."""
        start = timedelta(hours=self.start.hour, minutes=self.start.minute)
        end = timedelta(hours=self.end.hour, minutes=self.end.minute)
        if self.end == time.max:
            end = timedelta(days=1)
        if end <= start:
            end += timedelta(days=1)
        return end - start


class Layer(Model):
    """A rotation: users take turns of `turn` length, handing off at `handoff`, from `start` on."""

    name: Name
    users: list[Name] = Field(min_length=1, description="Users in rotation order; a name may appear twice.")
    turn: Duration = Field(default=timedelta(weeks=1), description="Length of one turn: 1d, 1w, 12h, 2w …")
    handoff: HandoffSpec = Field(
        default_factory=Handoff, description='"monday 09:00" for weekly turns, "09:00" for daily ones.'
    )
    start: date = Field(description="The rotation begins at the first handoff on or after this date.")
    end: date | None = Field(default=None, description="The layer ends at 00:00 of this date (optional).")
    restrictions: list[Restriction] = Field(
        default_factory=list, description="If given, the layer is on call only within these windows."
    )

    @model_validator(mode="after")
    def _check(self) -> Layer:
        if self.turn < timedelta(minutes=1):
            raise ValueError("turn must be at least 1m")
        if self.turn.total_seconds() % 60:
            raise ValueError("turn must be a whole number of minutes")
        if self.handoff.weekday is not None and self.turn % timedelta(weeks=1):
            raise ValueError("a handoff with a weekday needs a turn of whole weeks (1w, 2w …); "
                             "for other turns write only the time, e.g. \"09:00\"")
        if self.end is not None and self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class Schedule(Model):
    """An on-call schedule: rotation layers in the schedule's time zone."""

    name: Name
    description: str = ""
    timezone: TimeZone = Field(default="UTC", description="Zone of handoffs and restrictions.")
    layers: list[Layer] = Field(min_length=1, description="Later layers sit on top of earlier ones.")

    @model_validator(mode="after")
    def _unique_layers(self) -> Schedule:
        _unique([layer.name for layer in self.layers], "layer")
        return self


SeverityName = Annotated[Severity, BeforeValidator(Severity.parse)]
"""P0 … P4 (also p1 or 1)."""


class Contact(Model):
    """One way to reach a user: an Apprise URL, used for the listed severities (all if omitted)."""

    url: str = Field(min_length=1, description="Apprise URL; put secrets in ${ENV} variables.")
    urgency: list[SeverityName] | None = Field(default=None, description="Severities that use this contact.")

    def applies_to(self, severity: Severity | str) -> bool:
        return self.urgency is None or Severity.parse(str(severity)) in self.urgency


class User(Model):
    """A person who can be on call or be paged."""

    name: Name
    full_name: str = ""
    email: str | None = None
    timezone: TimeZone | None = Field(default=None, description="Defaults to the team's timezone.")
    role: Role = Field(default=Role.RESPONDER, description="viewer | responder | admin")
    contacts: list[Contact] = Field(default_factory=list)

    @property
    def display(self) -> str:
        return self.full_name or self.name

    def contact_urls(self, severity: Severity | str) -> list[str]:
        """The Apprise URLs to use for an incident of this severity, in config order."""
        return [c.url for c in self.contacts if c.applies_to(severity)]

    def secrets(self) -> set[str]:
        """Contact URLs carry tokens: never show them."""
        return {c.url for c in self.contacts}


_TARGET = re.compile(r"^(user|schedule):([a-z0-9][a-z0-9_\-]*)$")


def _parse_target(value: Any) -> str:
    text = str(value).strip()
    if not _TARGET.match(text):
        raise ValueError(f"{value!r} is not a target; write user:NAME or schedule:NAME")
    return text


Target = Annotated[
    str, BeforeValidator(_parse_target),
    WithJsonSchema({"type": "string", "pattern": _TARGET.pattern, "examples": ["schedule:primary"]}),
]
"""`user:NAME` or `schedule:NAME`."""


def split_target(target: str) -> tuple[str, str]:
    """'schedule:primary' → ('schedule', 'primary')."""
    kind, _, name = target.partition(":")
    return kind, name


class Level(Model):
    targets: list[Target] = Field(min_length=1, description="user:NAME, schedule:NAME; paged at once.")
    after: Duration | None = Field(
        default=None, description="Time to acknowledge before the next level is paged."
    )


class EscalationPolicy(Model):
    """Ordered levels paged one after another until someone acknowledges."""

    name: Name
    description: str = ""
    repeat: int = Field(default=0, ge=0, le=20, description="Run the levels again N times if unacked.")
    renotify_after: Duration | None = Field(
        default=None, description="Page again this often while acknowledged but not resolved."
    )
    levels: list[Level] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> EscalationPolicy:
        for index, level in enumerate(self.levels[:-1]):
            if level.after is None or level.after <= timedelta(0):
                raise _error(("levels", index, "after"), "every level but the last needs `after` (e.g. 10m)",
                             level.after)
        last = self.levels[-1]
        if self.repeat and (last.after is None or last.after <= timedelta(0)):
            raise _error(("levels", len(self.levels) - 1, "after"),
                         "with repeat, the last level needs `after` too (when to start over)", last.after)
        if self.renotify_after is not None and self.renotify_after < timedelta(minutes=1):
            raise ValueError("renotify_after must be at least 1m")
        return self


def _unique(names: list[str], what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"{what} name {name!r} is used twice")
        seen.add(name)


def _error(loc: tuple[str | int, ...], message: str, value: Any) -> ValidationError:
    return _errors([(loc, message, value)])


def _errors(problems: Sequence[tuple[tuple[str | int, ...], str, Any]]) -> ValidationError:
    """A ValidationError with locations relative to the field validated (pydantic prefixes them)."""
    details = [
        InitErrorDetails(type=PydanticCustomError("reference", message), loc=loc, input=value)
        for loc, message, value in problems
    ]
    return ValidationError.from_exception_data("opsbook.yaml", details)


def check_users(users: list[User]) -> list[User]:
    _unique([u.name for u in users], "user")
    return users


def check_schedules(schedules: list[Schedule], info: ValidationInfo) -> list[Schedule]:
    """Each schedule name once; every layer's users exist in `users:`."""
    _unique([s.name for s in schedules], "schedule")
    users = info.data.get("users")
    if users is None:  # `users:` itself is invalid: that error is reported instead
        return schedules
    known = {u.name for u in users}
    problems = [
        ((i, "layers", j, "users", k), f"unknown user {name!r}; add it under `users:`", name)
        for i, schedule in enumerate(schedules)
        for j, layer in enumerate(schedule.layers)
        for k, name in enumerate(layer.users)
        if name not in known
    ]
    if problems:
        raise _errors(problems)
    return schedules


def check_policies(policies: list[EscalationPolicy], info: ValidationInfo) -> list[EscalationPolicy]:
    """Each policy name once; every target names a known user or schedule."""
    _unique([p.name for p in policies], "escalation policy")
    users, schedules = info.data.get("users"), info.data.get("schedules")
    if users is None or schedules is None:
        return policies
    known = {"user": {u.name for u in users}, "schedule": {s.name for s in schedules}}
    problems: list[tuple[tuple[str | int, ...], str, Any]] = []
    for i, policy in enumerate(policies):
        for j, level in enumerate(policy.levels):
            for k, target in enumerate(level.targets):
                kind, name = split_target(target)
                if name not in known[kind]:
                    section = "users" if kind == "user" else "schedules"
                    problems.append(((i, "levels", j, "targets", k),
                                     f"unknown {kind} {name!r}; add it under `{section}:`", target))
    if problems:
        raise _errors(problems)
    return policies


Users = Annotated[list[User], AfterValidator(check_users)]
Schedules = Annotated[list[Schedule], AfterValidator(check_schedules)]
EscalationPolicies = Annotated[list[EscalationPolicy], AfterValidator(check_policies)]
"""Field types for OpsbookConfig: declare `users`, then `schedules`, then `escalation_policies`, in that order
(each one's references are checked against the fields declared before it)."""
