"""The rule parts of opsbook.yaml: `rules:` on services and checks, `failures:` on checks, `alerting:`.

```yaml
services:
  - name: api
    rules:                          # service-level: every check of the service, or only `check: NAME`
      - name: api-p95
        check: health
        when: "p95(latency_ms) > 500 for 5m"
        severity: P1
        summary: "API p95 {{ value }} ms > 500 ms"
        runbook: "API Not Responding"
    checks:
      - name: health
        kind: http
        url: https://api.example.com/health
        failures: 3                 # the default consecutive-failures rule (0 turns it off)
        rules:                      # check-level rules
          - when: "error_rate > 10% over 5m for 5m"
            severity: P2
alerting:
  default_failures: 3               # every check gets `failures >= 3` unless it says otherwise
  default_severity: P2
  resolve_after: 0s                 # flap damping: minimum time firing before a resolve (rule: min_firing)
  routing_keys:                     # service → PagerDuty Events v2 routing_key it accepts
    api: ${PD_API_ROUTING_KEY}
```

The `when:` syntax is documented in opsbook.rules.expr. A rule without a name is named after its
expression (e.g. `p95-latency_ms-over-5m-gt-500-for-5m`); the default rule is named `failures`. Summaries
are Jinja2 templates with `value`, `threshold`, `service`, `check`, `rule`, `severity` and `message`.
"""

from __future__ import annotations

import hmac
import re
from datetime import timedelta
from functools import cache, lru_cache
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, ValidationError, ValidationInfo, field_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from opsbook.config.types import Duration, Model, Name
from opsbook.rules.expr import Expr, ExprError, parse
from opsbook.rules.severity import Severity
from opsbook.runbooks.config import ProcedureName

DEFAULT_RULE = "failures"
"""The name of the consecutive-failures rule every check gets."""

SeverityLevel = Annotated[Severity, BeforeValidator(lambda v: Severity.parse(v) if isinstance(v, str) else v)]


@lru_cache(maxsize=1024)
def template(text: str) -> Any:
    """A compiled (sandboxed) Jinja2 template for a rule summary."""
    return _sandbox().from_string(text)


@cache
def _sandbox() -> Any:
    """Jinja2 is loaded by the first template, not with the config's classes: a command handed a
    validated config by opsbook.config.cache compiles none (Jinja2 costs it about 30 ms)."""
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(autoescape=False)


def _when(value: str) -> str:
    try:
        parse(value)
    except ExprError as exc:
        raise ValueError(str(exc)) from None
    return value


When = Annotated[str, AfterValidator(_when)]


class RuleConfig(Model):
    """A rule on a check (`checks[].rules`)."""

    name: Name | None = Field(default=None, description="Unique per check; defaults to a name from `when`.")
    when: When = Field(description="The condition, e.g. 'p95(latency_ms) > 500 for 5m' (see the docs).")
    severity: SeverityLevel | None = Field(default=None, description="P0-P4; default: see alerting.")
    summary: str = Field(
        default="",
        description="Jinja2: {{ value }}, {{ threshold }}, {{ check }}, {{ detail }} (the result's own "
        "message)...",
    )
    runbook: ProcedureName = Field(
        default="", description="Procedure to follow when it fires: its name as for `runbook run`, or a URL."
    )
    labels: dict[str, str] = Field(default_factory=dict, description="Extra labels for routing and silences.")
    min_firing: Duration | None = Field(
        default=None, description="Flap damping: least time firing before a resolve (default resolve_after)."
    )

    @field_validator("summary")
    @classmethod
    def _summary(cls, value: str) -> str:
        from jinja2 import TemplateSyntaxError

        try:
            template(value)
        except TemplateSyntaxError as exc:
            raise ValueError(f"invalid template (line {exc.lineno}): {exc.message}") from None
        return value

    def expr(self) -> Expr:
        return parse(self.when)

    def rule_name(self) -> str:
        return self.name or default_name(self.expr())


class ServiceRuleConfig(RuleConfig):
    """A rule on a service (`services[].rules`): every check of it, or the one named by `check`."""

    check: Name | None = Field(default=None, description="Only this check of the service (default: all).")


def default_name(expr: Expr) -> str:
    """A stable name from an expression.

    'p95(latency_ms) > 500 for 5m' → 'p95-latency_ms-over-5m-gt-500-for-5m'.
    """
    text = expr.canonical()
    for op, word in ((">=", " ge "), ("<=", " le "), ("==", " eq "), ("!=", " ne "), (">", " gt "),
                     ("<", " lt "), ("%", " pct ")):
        text = text.replace(op, word)
    slug = re.sub(r"[^a-z0-9_]+", "-", text.lower()).strip("-")
    return slug[:64].rstrip("-") or "rule"


def _errors(problems: list[tuple[tuple[str | int, ...], str, Any]]) -> ValidationError:
    details = [
        InitErrorDetails(type=PydanticCustomError("rule", message), loc=loc, input=value)
        for loc, message, value in problems
    ]
    return ValidationError.from_exception_data("opsbook.yaml", details)


def _check_check_rules(rules: list[RuleConfig], info: ValidationInfo) -> list[RuleConfig]:
    """On a check: names unique, `failures` reserved, `heartbeat missing` only on heartbeat checks."""
    kind = info.data.get("kind")
    problems: list[tuple[tuple[str | int, ...], str, Any]] = []
    seen: set[str] = set()
    for i, rule in enumerate(rules):
        name = rule.rule_name()
        if name == DEFAULT_RULE:
            problems.append(((i, "name"), "'failures' is the default rule's name; set `failures: N` on the "
                             "check instead, or choose another name", name))
        elif name in seen:
            problems.append(((i, "name"), f"rule name {name!r} is used twice on this check", name))
        seen.add(name)
        if rule.expr().operand.kind == "heartbeat" and kind is not None and kind != "heartbeat":
            problems.append(((i, "when"), f"'heartbeat missing' needs a heartbeat check; this one is {kind}",
                             rule.when))
    if problems:
        raise _errors(problems)
    return rules


CheckRules = Annotated[list[RuleConfig], AfterValidator(_check_check_rules)]
"""The type of `CheckSpec.rules`."""


def _check_service_rules(rules: list[ServiceRuleConfig], info: ValidationInfo) -> list[ServiceRuleConfig]:
    """On a service: `check` names one of its checks, names unique per check, heartbeat rules fit."""
    problems: list[tuple[tuple[str | int, ...], str, Any]] = []
    checks = info.data.get("checks")
    by_name = {c.name: c for c in checks} if checks is not None else None
    seen: dict[tuple[str | None, str], int] = {}
    for i, rule in enumerate(rules):
        name = rule.rule_name()
        if name == DEFAULT_RULE:
            problems.append(((i, "name"), "'failures' is the default rule's name; choose another", name))
        if (rule.check, name) in seen or (None, name) in seen or (
            rule.check is None and any(n == name for _, n in seen)
        ):
            problems.append(((i, "name"), f"rule name {name!r} is used twice in this service", name))
        seen[(rule.check, name)] = i
        if by_name is None:
            continue
        if rule.check is not None and rule.check not in by_name:
            problems.append(((i, "check"), f"no check named {rule.check!r} in this service; "
                             f"known: {', '.join(sorted(by_name)) or 'none'}", rule.check))
            continue
        targets = [by_name[rule.check]] if rule.check is not None else list(by_name.values())
        for check in targets:
            clash = [r for r in getattr(check, "rules", []) if r.rule_name() == name]
            if clash:
                problems.append(((i, "name"), f"rule name {name!r} is also used by a rule of check "
                                 f"{check.name!r}", name))
        if rule.expr().operand.kind == "heartbeat" and rule.check is not None:
            kind = getattr(by_name[rule.check], "kind", None)
            if kind != "heartbeat":
                problems.append(((i, "when"), f"'heartbeat missing' needs a heartbeat check; "
                                 f"{rule.check!r} is {kind}", rule.when))
    if problems:
        raise _errors(problems)
    return rules


ServiceRules = Annotated[list[ServiceRuleConfig], AfterValidator(_check_service_rules)]
"""The type of `Service.rules` (declare it after `checks`, whose names it checks)."""


class AlertingSettings(Model):
    """The `alerting:` section: defaults of every rule, and where external events go."""

    default_failures: int = Field(
        default=3, ge=0, description="Consecutive failures that fire a check's default rule (0: none)."
    )
    default_severity: SeverityLevel = Field(default=Severity.P2, description="Severity of rules naming none.")
    resolve_after: Duration = Field(
        default=timedelta(0), description="Flap damping: least time an alert fires before it may resolve."
    )
    routing_keys: dict[Name, str] = Field(
        default_factory=dict,
        description="Service → the PagerDuty Events v2 routing_key (use ${ENV}) that "
        "/api/v1/events/pagerduty maps to it.",
    )

    def service_for_key(self, routing_key: str) -> str | None:
        """The service a PagerDuty routing_key belongs to (compared in constant time), or None."""
        found = None
        for service, key in self.routing_keys.items():
            if hmac.compare_digest(key.encode(), routing_key.encode()):
                found = service
        return found


def _check_alerting(settings: AlertingSettings, info: ValidationInfo) -> AlertingSettings:
    services = info.data.get("services")
    if services is None:
        return settings
    known = {s.name for s in services}
    problems: list[tuple[tuple[str | int, ...], str, Any]] = [
        (("routing_keys", service), f"unknown service {service!r}", service)
        for service in settings.routing_keys
        if service not in known
    ]
    keys = list(settings.routing_keys.values())
    if len(set(keys)) != len(keys):
        problems.append((("routing_keys",), "a routing key is given for two services", ""))
    if problems:
        raise _errors(problems)
    return settings


Alerting = Annotated[AlertingSettings, AfterValidator(_check_alerting)]
"""The type of `OpsbookConfig.alerting` (declare it after `services`)."""
