"""The `incidents:` section of opsbook.yaml: response SLAs, which alerts open incidents, grouping,
escalation policy per severity or service, update channels and the secret of signed ack links.

```yaml
incidents:
  sla:                          # time to acknowledge, per severity (defaults from the runbooks)
    P0: 5m
    P1: 15m
    P2: 1h
    P3: next business day       # end of the next business day (`business_hours`, team `timezone`)
    P4: none
  open_on: [P0, P1, P2]         # firing alerts of these severities open (or join) an incident
  grouping_window: 30m          # an alert joins its service's open incident opened this recently
  escalation:
    default: default            # policy for every incident (else a policy named "default", else the first)
    severity: {P0: critical}    # per severity ...
    service: {payments: pay}    # ... and per service (wins over severity)
  auto_resolve: false           # resolve an incident by itself when all its alerts resolve
  update_channels: [status]     # where incident updates go; left out: the severity's routing channels
  link_secret: ${OPSBOOK_LINK_SECRET:-}   # signs ack links; empty: generated, kept in the database
  link_ttl: 24h                 # how long an ack link works
```
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, PlainSerializer, ValidationInfo, WithJsonSchema

from opsbook.config.types import Duration, Model, Name, format_duration, parse_duration
from opsbook.rules.severity import Severity

NEXT_BUSINESS_DAY: Literal["next_business_day"] = "next_business_day"

SlaValue = timedelta | Literal["next_business_day"] | None
"""A time to acknowledge, the end of the next business day, or no deadline."""


def parse_sla(value: Any) -> SlaValue:
    """'5m', 300, 'next business day', 'none' / null."""
    if value is None or isinstance(value, timedelta):
        return value
    if isinstance(value, str):
        text = value.strip().lower().replace("-", " ").replace("_", " ")
        if text in ("none", "no", "off", ""):
            return None
        if text in ("next business day", "nbd"):
            return NEXT_BUSINESS_DAY
    try:
        found = parse_duration(value)
    except ValueError:
        raise ValueError(
            f"{value!r} is not a response time: write a duration ('5m', '1h'), 'next business day' or 'none'"
        ) from None
    if found <= timedelta(0):
        raise ValueError("a response time must be longer than 0s (write 'none' for no deadline)")
    return found


def _show_sla(value: SlaValue) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return format_duration(value)


Sla = Annotated[
    SlaValue,
    BeforeValidator(parse_sla),
    PlainSerializer(_show_sla, return_type=str | None),
    WithJsonSchema(
        {"type": ["string", "number", "null"], "examples": ["5m", "1h", "next business day", "none"]}
    ),
]


class SlaSettings(Model):
    """Time to acknowledge per severity."""

    P0: Sla = timedelta(minutes=5)
    P1: Sla = timedelta(minutes=15)
    P2: Sla = timedelta(hours=1)
    P3: Sla = NEXT_BUSINESS_DAY
    P4: Sla = None

    def for_severity(self, severity: Severity | str) -> SlaValue:
        value: SlaValue = getattr(self, Severity.parse(str(severity)).value)
        return value


def _severity_list(value: Any) -> Any:
    if isinstance(value, list):
        return [Severity.parse(str(v)) for v in value]
    return value


def _severity_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {Severity.parse(str(k)).value: v for k, v in value.items()}
    return value


class EscalationChoice(Model):
    """Which escalation policy an incident gets: by service, else by severity, else `default`."""

    default: Name | None = Field(default=None, description="Policy for every other incident.")
    severity: Annotated[dict[str, Name], BeforeValidator(_severity_keys)] = Field(
        default_factory=dict, description="Policy per severity (P0 … P4)."
    )
    service: dict[Name, Name] = Field(default_factory=dict, description="Policy per service (wins).")

    def names(self) -> list[tuple[tuple[str, ...], str]]:
        """Every policy name mentioned, with where (for reference checks)."""
        out: list[tuple[tuple[str, ...], str]] = []
        if self.default:
            out.append((("default",), self.default))
        out += [(("severity", k), v) for k, v in self.severity.items()]
        out += [(("service", k), v) for k, v in self.service.items()]
        return out


class IncidentsSettings(Model):
    """How incidents open, group, escalate and are announced."""

    sla: SlaSettings = Field(default_factory=SlaSettings, description="Time to acknowledge per severity.")
    open_on: Annotated[list[Severity], BeforeValidator(_severity_list)] = Field(
        default_factory=lambda: [Severity.P0, Severity.P1, Severity.P2],
        description="Severities of firing alerts that open an incident.",
    )
    grouping_window: Duration = Field(
        default=timedelta(minutes=30),
        description="A firing alert joins the open incident of its service opened at most this long ago.",
    )
    escalation: EscalationChoice = Field(default_factory=EscalationChoice)
    auto_resolve: bool = Field(
        default=False, description="Resolve an incident by itself once all its alerts have resolved."
    )
    update_channels: list[Name] | None = Field(
        default=None,
        description="Channels for incident updates; left out: the channels the severity routes to; [] none.",
    )
    link_secret: str | None = Field(
        default=None, repr=False,
        description="Signs ack links (${OPSBOOK_LINK_SECRET}); empty: generated, kept in the database.",
    )
    link_ttl: Duration = Field(default=timedelta(hours=24), description="How long an ack link works.")

    def opens(self, severity: Severity | str) -> bool:
        return Severity.parse(str(severity)) in self.open_on


def check_incidents(value: IncidentsSettings, info: ValidationInfo) -> IncidentsSettings:
    """Policy and channel names must exist (`incidents` comes after `escalation_policies`, `channels`)."""
    from opsbook.oncall.config import _errors

    policies = info.data.get("escalation_policies")
    channels = info.data.get("channels")
    problems: list[tuple[tuple[str | int, ...], str, Any]] = []
    if policies is not None:
        known = {p.name for p in policies}
        for loc, name in value.escalation.names():
            if name not in known:
                problems.append((("escalation", *loc), f"unknown escalation policy {name!r}; add it under "
                                 "`escalation_policies:`", name))
    if channels is not None and value.update_channels:
        names = {c.name for c in channels}
        for i, name in enumerate(value.update_channels):
            if name not in names:
                message = f"unknown channel {name!r}; add it under `channels:`"
                problems.append((("update_channels", i), message, name))
    if problems:
        raise _errors(problems)
    return value


Incidents = Annotated[
    IncidentsSettings, BeforeValidator(lambda v: {} if v is None else v), AfterValidator(check_incidents)
]
"""The field type for OpsbookConfig: declare it after `escalation_policies` and `channels`."""
