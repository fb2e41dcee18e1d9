"""Notify sections of opsbook.yaml: `channels`, `routing`, `business_hours`, `grouping`, `notifications`.

```yaml
channels:
  - name: ops-slack
    url: "${SLACK_URL}"          # any Apprise URL; secrets from the environment; never shown anywhere
    rate_limit: 30/1m            # optional: at most 30 messages a minute; the excess waits, never dropped
routing:                         # by severity; missing severities keep the defaults below
  P0: {action: page, channels: [ops-slack]}
  P3: {action: notify, channels: [email-oncall], business_hours_only: true}
business_hours: {days: [mon, tue, wed, thu, fri], from: "09:00", to: "18:00"}   # in `timezone`
grouping: {window: 30s, P0: 0s}  # firing alerts of one service within the window go out as one message
notifications:
  retry: {base: 5s, factor: 2, cap: 10m, max_attempts: 12, max_age: 24h}
  templates: {firing: {subject: "...", body: "..."}}   # Jinja2; see opsbook.notify.templates
```

Default routing (from the example runbooks): P0/P1 page, P2 notify, P3 notify in business hours only,
P4 log only; `channels` left out means every configured channel.
"""

from __future__ import annotations

import re
from datetime import time, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlsplit

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PlainSerializer,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from opsbook.config.types import Duration, Model, Name
from opsbook.rules.severity import Severity

Action = Literal["page", "notify", "log"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class RateLimit(Model):
    """At most `count` messages per `per` on one channel (a token bucket: bursts up to `count`)."""

    count: int = Field(ge=1)
    per: Duration

    def __str__(self) -> str:
        from opsbook.config.types import format_duration

        return f"{self.count}/{format_duration(self.per)}"


def _parse_rate(value: Any) -> Any:
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\S+)\s*", value)
        if not match:
            raise ValueError(f"{value!r} is not a rate limit: write COUNT/DURATION, e.g. '30/1m'")
        return {"count": int(match[1]), "per": match[2]}
    return value


def _check_per(value: RateLimit) -> RateLimit:
    if value.per <= timedelta(0):
        raise ValueError("the period of a rate limit must be longer than 0s")
    return value


RateLimitSpec = Annotated[
    RateLimit,
    BeforeValidator(_parse_rate),
    AfterValidator(_check_per),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^\s*\d+\s*/\s*\S+\s*$", "examples": ["30/1m", "100/1h"]}),
]


def url_secrets(url: str) -> set[str]:
    """The parts of an Apprise URL that may be credentials: the whole URL, userinfo, tokens in path and query.

    Apprise puts tokens anywhere (Telegram's bot token is the host, Slack's are path segments), so every
    component that looks like a token (8+ characters with a digit, or 16+) is treated as secret; host
    names and e-mail addresses are not.
    """
    found = {url}
    try:
        parts = urlsplit(url)
    except ValueError:
        return found
    pieces: list[str] = []
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, netloc = netloc.rpartition("@")
        user, _, password = userinfo.partition(":")
        if password:
            found.add(password)
        pieces.append(user)
    pieces.append(netloc.rsplit(":", 1)[0] if re.search(r":\d+$", netloc) else netloc)
    pieces.extend(p for p in parts.path.split("/") if p)
    pieces.extend(v for _, v in parse_qsl(parts.query, keep_blank_values=False))
    if parts.fragment:
        pieces.append(parts.fragment)
    for piece in pieces:
        if _looks_like_token(piece):
            found.add(piece)
    return found


def _looks_like_token(piece: str) -> bool:
    if len(piece) < 8 or "@" in piece:
        return False
    if re.fullmatch(r"[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)+", piece):  # a host name or an IP address
        return False
    if piece.isdigit() and len(piece) < 12:
        return False
    return bool(re.search(r"\d", piece)) or len(piece) >= 16


class Channel(Model):
    """Somewhere messages go: any Apprise URL (Slack, e-mail, Teams, Telegram, PagerDuty, webhooks...)."""

    name: Name
    url: str = Field(min_length=1, description="An Apprise URL; put secrets in ${ENV} variables.", repr=False)
    rate_limit: RateLimitSpec | None = Field(
        default=None, description="COUNT/DURATION, e.g. '30/1m'. Excess messages wait; none is dropped."
    )
    description: str = ""

    @field_validator("url")
    @classmethod
    def _valid_apprise_url(cls, value: str) -> str:
        from opsbook.notify.apprise_send import is_valid_url

        if not is_valid_url(value):
            raise ValueError(
                "not a URL Apprise can send to (see https://github.com/caronc/apprise/wiki for the formats)"
            )
        return value

    def secrets(self) -> set[str]:
        return url_secrets(self.url)


class Route(Model):
    """What a severity does: page or notify the channels, or only log."""

    action: Action
    channels: list[Name] | None = Field(
        default=None, description="Channels to send to; left out: every configured channel."
    )
    business_hours_only: bool = Field(
        default=False, description="Outside business hours, hold messages until business hours start."
    )

    @model_validator(mode="after")
    def _log_sends_nothing(self) -> Route:
        if self.action == "log" and self.channels:
            raise ValueError("action 'log' sends nothing; remove 'channels' or use action 'notify'")
        return self


DEFAULT_ROUTES: dict[Severity, Route] = {
    Severity.P0: Route(action="page"),
    Severity.P1: Route(action="page"),
    Severity.P2: Route(action="notify"),
    Severity.P3: Route(action="notify", business_hours_only=True),
    Severity.P4: Route(action="log"),
}


class Routing(Model):
    """Routes by severity; a severity left out keeps its default."""

    P0: Route = Field(default=DEFAULT_ROUTES[Severity.P0])
    P1: Route = Field(default=DEFAULT_ROUTES[Severity.P1])
    P2: Route = Field(default=DEFAULT_ROUTES[Severity.P2])
    P3: Route = Field(default=DEFAULT_ROUTES[Severity.P3])
    P4: Route = Field(default=DEFAULT_ROUTES[Severity.P4])

    def for_severity(self, severity: Severity | str) -> Route:
        route: Route = getattr(self, Severity.parse(str(severity)).value)
        return route


def _routing_channels_exist(value: Routing, info: ValidationInfo) -> Routing:
    """Used on OpsbookConfig.routing: every channel a route names must be defined under `channels`."""
    channels = info.data.get("channels")
    if channels is None:  # channels had errors of their own, already reported
        return value
    known = [c.name for c in channels]
    problems = []
    for sev in Severity:
        for name in value.for_severity(sev).channels or []:
            if name not in known:
                problems.append(f"{sev.value}: unknown channel {name!r}")
    if problems:
        raise ValueError("; ".join(problems) + f" (channels defined: {', '.join(known) or 'none'})")
    return value


RoutingSection = Annotated[Routing, AfterValidator(_routing_channels_exist)]
"""The type of OpsbookConfig.routing (must be declared after `channels`)."""


def _parse_clock_time(value: Any) -> Any:
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", value)
        if not match or int(match[1]) > 24 or int(match[2]) > 59 or (int(match[1]) == 24 and int(match[2])):
            raise ValueError(f"{value!r} is not a time of day: write HH:MM, e.g. '09:00'")
        if int(match[1]) == 24:
            return time.max
        return time(int(match[1]), int(match[2]))
    if isinstance(value, int) and not isinstance(value, bool):  # YAML 1.1 reads 09:00 unquoted as 540
        return time(value // 60 % 24, value % 60)
    return value


ClockTime = Annotated[
    time,
    BeforeValidator(_parse_clock_time),
    PlainSerializer(lambda t: "24:00" if t == time.max else t.strftime("%H:%M"), return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^\d{1,2}:\d{2}$", "examples": ["09:00", "18:00"]}),
]


def _normalize_days(value: Any) -> Any:
    if isinstance(value, list):
        return [str(v).strip().lower()[:3] for v in value]
    return value


class BusinessHours(Model):
    """When P3 notifications may go out, in the top-level `timezone`."""

    model_config = {"populate_by_name": True}

    days: Annotated[list[Weekday], BeforeValidator(_normalize_days)] = Field(
        default_factory=lambda: list(WEEKDAYS[:5])
    )
    start: ClockTime = Field(default=time(9, 0), alias="from")
    end: ClockTime = Field(default=time(18, 0), alias="to")

    @model_validator(mode="after")
    def _ordered(self) -> BusinessHours:
        if not self.days:
            raise ValueError("business hours need at least one day")
        if self.end <= self.start:
            raise ValueError("'to' must be later than 'from' (business hours do not cross midnight)")
        return self


class Grouping(Model):
    """Firing notifications of one service within `window` go out as one message; per-severity overrides."""

    window: Duration = Field(default=timedelta(seconds=30))
    P0: Duration | None = Field(default=timedelta(0))
    P1: Duration | None = None
    P2: Duration | None = None
    P3: Duration | None = None
    P4: Duration | None = None

    def window_for(self, severity: Severity | str) -> timedelta:
        own: timedelta | None = getattr(self, Severity.parse(str(severity)).value)
        return self.window if own is None else own


class RetryPolicy(Model):
    """Exponential backoff with jitter between delivery attempts; give up after max_attempts or max_age."""

    base: Duration = Field(default=timedelta(seconds=5), description="Wait after the first failure.")
    factor: float = Field(default=2.0, ge=1.0, description="Each wait is this many times the previous one.")
    cap: Duration = Field(default=timedelta(minutes=10), description="The longest wait between attempts.")
    jitter: float = Field(default=0.5, ge=0.0, le=1.0, description="Random share of a wait cut off.")
    max_attempts: int = Field(default=12, ge=1, description="Give up after this many failed attempts.")
    max_age: Duration = Field(default=timedelta(hours=24), description="Give up on older messages.")


class TemplateOverride(Model):
    """A Jinja2 subject and/or body replacing the default for one kind of message."""

    subject: str | None = None
    body: str | None = None

    @model_validator(mode="after")
    def _compiles(self) -> TemplateOverride:
        from opsbook.notify.templates import check_template

        for name in ("subject", "body"):
            text = getattr(self, name)
            if text is not None:
                problem = check_template(text)
                if problem:
                    raise ValueError(f"{name}: {problem}")
        return self


class Templates(Model):
    """Replacements of the default templates, per kind of message (see opsbook.notify.templates)."""

    firing: TemplateOverride | None = None
    resolved: TemplateOverride | None = None
    incident: TemplateOverride | None = Field(default=None, description="A page to a person.")
    update: TemplateOverride | None = Field(default=None, description="An incident update.")
    sla: TemplateOverride | None = Field(default=None, description="An incident missed its response SLA.")
    handoff: TemplateOverride | None = Field(default=None, description="The brief at the start of a shift.")
    gap: TemplateOverride | None = Field(default=None, description="Nobody is on call soon.")
    secret: TemplateOverride | None = Field(
        default=None, description="A secret's rotation is due (its owner)."
    )
    status_confirm: TemplateOverride | None = Field(default=None, description="A subscriber's confirmation.")
    status_incident: TemplateOverride | None = Field(
        default=None, description="A published incident, to subscribers."
    )
    status_maintenance: TemplateOverride | None = Field(
        default=None, description="A maintenance ahead, to subscribers."
    )
    test: TemplateOverride | None = None
    group: TemplateOverride | None = None

    def override(self, kind: str) -> TemplateOverride | None:
        if kind not in type(self).model_fields:
            return None
        found: TemplateOverride | None = getattr(self, kind)
        return found


class NotifySettings(Model):
    """How the delivery worker behaves."""

    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    send_timeout: Duration = Field(default=timedelta(seconds=30), description="Longest one send may take.")
    lease: Duration = Field(
        default=timedelta(minutes=2),
        description="A claimed message not finished within this is sent again by another worker.",
    )
    poll_interval: Duration = Field(default=timedelta(seconds=1), description="Outbox polling interval.")
    batch_size: int = Field(default=20, ge=1, description="Messages claimed and sent at once, at most.")
    templates: Templates = Field(default_factory=Templates)

    @model_validator(mode="after")
    def _lease_covers_send(self) -> NotifySettings:
        if self.lease <= self.send_timeout:
            raise ValueError("'lease' must be longer than 'send_timeout', or a slow send would be sent twice")
        return self


ChannelsSection = list[Channel]
"""The type of OpsbookConfig.channels (the loader reports a name used twice, with its line)."""

WEEKDAY_INDEX = {day: i for i, day in enumerate(WEEKDAYS)}
