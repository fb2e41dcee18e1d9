"""Alertmanager-style matchers of alert attributes: `name=value`, `name!=value`, `name=~re`, `name!~re`.

An alert is described by `AlertAttrs` (service, check, rule, severity and free-form labels). A matcher
names one attribute: `service`, `check`, `rule` and `severity` are the alert's own; any other name is a
label. A missing label reads as the empty string, as in Alertmanager, so `team!=db` matches an alert
without a `team` label. Regular expressions are Python `re` syntax and fully anchored: `P[23]` matches
`P2`, not `P23`. Severity equality values are normalised (`severity=p2` is `severity=P2`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from opsbook.errors import Invalid
from opsbook.rules.severity import Severity

BUILTIN = ("service", "check", "rule", "severity")
ALERT_ONLY = ("check", "rule", "severity")
"""Attributes of one alert, not of its service: a window matching only these is maintenance of no service."""
_NAME = r"[A-Za-z_][A-Za-z0-9_.\-/]*"
_TEXT = re.compile(rf"^\s*({_NAME})\s*(=~|!=|!~|=)\s*(.*?)\s*$", re.DOTALL)


class MatcherError(Invalid):
    """A matcher that cannot be used: bad syntax, bad name or an invalid regular expression."""


class Op(StrEnum):
    EQ = "="
    NE = "!="
    RE = "=~"
    NRE = "!~"


@dataclass(frozen=True)
class AlertAttrs:
    """What matchers see of an alert."""

    service: str
    check: str = ""
    rule: str = ""
    severity: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)

    def get(self, name: str) -> str:
        if name in BUILTIN:
            return str(getattr(self, name))
        return str(self.labels.get(name, ""))


@dataclass(frozen=True)
class Matcher:
    """One condition on one attribute; build it with `Matcher.make` or `parse_matcher` so it is checked."""

    name: str
    op: Op
    value: str
    pattern: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def make(cls, name: str, op: Op | str, value: str) -> Matcher:
        if not re.fullmatch(_NAME, name or ""):
            raise MatcherError(f"{name!r} is not a matcher name (letters, digits, '_', '.', '-', '/')")
        try:
            op = Op(op)
        except ValueError:
            raise MatcherError(f"{op!r} is not a matcher operator; use =, !=, =~ or !~") from None
        value = str(value)
        pattern = None
        if op in (Op.RE, Op.NRE):
            try:
                pattern = re.compile(value)
            except re.error as exc:
                raise MatcherError(f"invalid regular expression {value!r} for {name!r}: {exc}") from None
        elif name == "severity" and value:
            try:
                value = Severity.parse(value).value
            except ValueError as exc:
                raise MatcherError(str(exc)) from None
        return cls(name, op, value, pattern)

    def matches(self, attrs: AlertAttrs) -> bool:
        actual = attrs.get(self.name)
        if self.op is Op.EQ:
            return actual == self.value
        if self.op is Op.NE:
            return actual != self.value
        assert self.pattern is not None
        found = self.pattern.fullmatch(actual) is not None
        return found if self.op is Op.RE else not found

    def matches_empty(self) -> bool:
        """True if an alert without this attribute would match (such a matcher alone matches too much)."""
        return self.matches(AlertAttrs(service=""))

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "op": self.op.value, "value": self.value}

    def __str__(self) -> str:
        return f'{self.name}{self.op.value}"{_quote(self.value)}"'


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        inner = value[1:-1]
        return re.sub(r"\\(.)", r"\1", inner) if value[0] == '"' else inner
    return value


def parse_matcher(text: str) -> Matcher:
    """`service=api`, `severity=~"P[23]"`, `team!=db`, `check!~'tls.*'` → a Matcher (MatcherError if bad)."""
    found = _TEXT.match(text)
    if not found:
        raise MatcherError(
            f"{text!r} is not a matcher; write NAME=VALUE, NAME!=VALUE, NAME=~REGEX or NAME!~REGEX"
        )
    name, op, value = found.groups()
    return Matcher.make(name, op, _unquote(value))


def matcher_from_json(data: Any) -> Matcher:
    """A matcher from its stored form `{"name", "op", "value"}` or its text form."""
    if isinstance(data, str):
        return parse_matcher(data)
    if not isinstance(data, Mapping) or "name" not in data or "value" not in data:
        raise MatcherError('a matcher is "NAME=VALUE" text or an object {"name", "op", "value"}')
    return Matcher.make(str(data["name"]), str(data.get("op", "=")), str(data["value"]))


def matchers_from_json(data: Iterable[Any]) -> tuple[Matcher, ...]:
    return tuple(matcher_from_json(item) for item in data)


def matches_all(matchers: Sequence[Matcher], attrs: AlertAttrs) -> bool:
    """True if every matcher matches (an empty list matches everything; see `check_not_too_broad`)."""
    return all(m.matches(attrs) for m in matchers)


def check_not_too_broad(matchers: Sequence[Matcher]) -> None:
    """A silence must name what it mutes: at least one matcher that an empty attribute does not satisfy.

    Like Alertmanager, this refuses `[]`, `team!=db` alone or `service=~".*"` alone, which would mute
    (nearly) every alert.
    """
    if not matchers:
        raise MatcherError("give at least one matcher, e.g. service=api")
    if all(m.matches_empty() for m in matchers):
        raise MatcherError(
            "these matchers would match every alert; add one that names what to mute, e.g. service=api"
        )


def service_matcher(services: Iterable[str]) -> Matcher:
    """`service=~"a|b"` for a list of service names (matched literally)."""
    names = sorted(set(services))
    if len(names) == 1:
        return Matcher.make("service", Op.EQ, names[0])
    return Matcher.make("service", Op.RE, "|".join(re.escape(n) for n in names))
