"""The rules in force for every check, resolved from the config: `compile_rules(config)`.

Each check gets, in order: its consecutive-failures rule (`failures: N` on the check, else
`alerting.default_failures`; 0 turns it off), the service's rules that apply to it, and its own rules.
Severity and flap damping fall back to the `alerting:` defaults. Each `RuleSpec` also knows how far back
the store must read results to evaluate it (`lookback`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from opsbook.rules.config import DEFAULT_RULE, RuleConfig, ServiceRuleConfig, template
from opsbook.rules.evaluate import Evaluation, format_value
from opsbook.rules.expr import Expr, failures_needed, format_number, parse
from opsbook.rules.severity import Severity

if TYPE_CHECKING:
    from opsbook.config.schema import OpsbookConfig

SLACK = timedelta(minutes=1)


@dataclass(frozen=True)
class RuleSpec:
    """One rule applied to one check."""

    name: str
    service: str
    check: str
    expr: Expr
    severity: Severity
    summary: str = ""  # Jinja2 template; empty: a sentence made from the expression
    runbook: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    min_firing: timedelta = timedelta(0)
    lookback: timedelta = timedelta(minutes=5)
    located: bool = False  # probed from several locations: its results' messages say which agree

    @property
    def check_id(self) -> str:
        return f"{self.service}/{self.check}"

    @property
    def dedup_key(self) -> str:
        return dedup_key(self.check_id, self.name)

    def render_summary(self, ev: Evaluation) -> str:
        """The rule's summary for this evaluation (its template, or a sentence from the expression)."""
        context: dict[str, Any] = {
            "value": format_value(ev.value) if ev.value is not None else "n/a",
            "threshold": format_number(ev.threshold) if ev.threshold is not None else "",
            "service": self.service,
            "check": self.check,
            "check_id": self.check_id,
            "rule": self.name,
            "severity": self.severity.value,
            "message": ev.message,
            "detail": ev.detail,
            "when": self.expr.text,
            "labels": dict(self.labels),
        }
        if self.summary:
            try:
                return str(template(self.summary).render(context)).strip()[:1000]
            except Exception as exc:  # a template error must never stop an alert
                return f"{self.check_id}: {ev.message} (summary template failed: {exc})"[:1000]
        where = f" ({ev.detail})" if self.located and ev.detail and ev.detail not in ev.message else ""
        if self.name == DEFAULT_RULE:
            where = f" ({ev.detail})" if self.located and ev.detail else ""
            return f"{self.check_id} failed {context['value']} times in a row{where}"[:1000]
        return f"{self.check_id}: {ev.message}{where}"[:1000]


def dedup_key(check_id: str, rule: str) -> str:
    """The key that makes one alert per rule x check: `service/check:rule`."""
    return f"{check_id}:{rule}"


def lookback(expr: Expr, interval: timedelta, timeout: timedelta, limit: timedelta) -> timedelta:
    """How far back results must be read to evaluate `expr` for a check run every `interval`.

    A windowed rule reads its window. The others read the newest results, and keep seeing them for the
    whole `for` even if no new result comes (so a pending alert can fire from the timer)."""
    period = interval + timeout
    window = expr.window
    if window is not None:
        needed = window
    elif expr.operand.kind == "failures":
        needed = 2 * failures_needed(expr) * period + SLACK + expr.hold
    else:  # last value, heartbeat: the newest result or two
        needed = 2 * period + SLACK + expr.hold
    return min(needed, limit)


def compile_rules(config: OpsbookConfig) -> dict[str, list[RuleSpec]]:
    """Every check id (`service/check`) → the rules evaluated on it. Disabled checks get none."""
    alerting = config.alerting
    limit = config.retention.raw
    out: dict[str, list[RuleSpec]] = {}
    for service in config.all_services():  # with the backup and secret checks
        for check in service.checks:
            if not check.enabled:
                continue
            labels = {**service.labels, **check.labels}
            interval, timeout = _cadence(check, limit)
            specs: list[RuleSpec] = []
            count = check.failures if check.failures is not None else alerting.default_failures
            if count > 0:
                expr = parse(f"failures >= {count}")
                specs.append(RuleSpec(
                    name=DEFAULT_RULE, service=service.name, check=check.name, expr=expr,
                    severity=alerting.default_severity, labels=labels, min_firing=alerting.resolve_after,
                    lookback=lookback(expr, interval, timeout, limit), located=bool(check.locations),
                ))
            service_rules: list[RuleConfig] = [
                r for r in service.rules if _applies(r, check.name, check.kind)
            ]
            for rule in [*service_rules, *check.rules]:
                expr = rule.expr()
                specs.append(RuleSpec(
                    name=rule.rule_name(), service=service.name, check=check.name, expr=expr,
                    severity=rule.severity or alerting.default_severity,
                    summary=rule.summary, runbook=rule.runbook, labels={**labels, **rule.labels},
                    min_firing=rule.min_firing if rule.min_firing is not None else alerting.resolve_after,
                    lookback=lookback(expr, interval, timeout, limit), located=bool(check.locations),
                ))
            out[f"{service.name}/{check.name}"] = specs
    return out


def _cadence(check: Any, limit: timedelta) -> tuple[timedelta, timedelta]:
    """How often a check yields a result, and how late one may be: a heartbeat's period and grace."""
    if getattr(check, "push", False):
        period = getattr(check, "period", None)
        grace = getattr(check, "grace", timedelta(0))
        return (period, grace) if period is not None else (limit, timedelta(0))
    return check.interval, check.timeout


def _applies(rule: RuleConfig, check: str, kind: str) -> bool:
    assert isinstance(rule, ServiceRuleConfig)
    if rule.check is not None:
        return rule.check == check
    # a service-wide `heartbeat missing` only concerns the service's heartbeat checks
    return rule.expr().operand.kind != "heartbeat" or kind == "heartbeat"
