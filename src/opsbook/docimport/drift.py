"""`opsbook doc check`: a document against the configuration in use, every disagreement with both lines.

The document is read as `opsbook init --from` reads it; what it says is compared with the validated
config: response times (incident SLAs) and routing per severity, the health checks it lists, its alert
rules (threshold, duration, severity; matched by what they measure on which kind of check), its
escalation path, its maintenance windows, and, the other way round, every rule of the config that pages
and that the document never mentions. A fresh import agrees with its own document.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache
from typing import Any

from opsbook.config.schema import OpsbookConfig
from opsbook.config.types import format_duration, parse_duration
from opsbook.config.yamlpos import Path
from opsbook.docimport.model import Check, Draft, Rule
from opsbook.docimport.oncall import level_after
from opsbook.incidents.config import parse_sla
from opsbook.rules.expr import Expr, ExprError, parse


@dataclass(frozen=True)
class Drift:
    """One disagreement: what, where the document says it, where the config says otherwise."""

    kind: str
    message: str
    document: str
    config: str


@dataclass
class ConfigView:
    """The config in use and where each of its values stands in its file."""

    config: OpsbookConfig
    file: str
    lines: dict[Path, int]

    def at(self, *path: str | int) -> str:
        """`opsbook.yaml:LINE` of a path, or of the nearest value around it ('not set: default'), or the file
        and the section it lacks."""
        probe: tuple[str | int, ...] = tuple(path)
        while probe:
            if probe in self.lines:
                suffix = "" if probe == tuple(path) else " (not set: default)"
                return f"{self.file}:{self.lines[probe]}{suffix}"
            probe = probe[:-1]
        return f"{self.file} (no `{path[0]}:` section)" if path else self.file


@dataclass(frozen=True)
class _Placed:
    """A config rule, where it is, and the check it applies to."""

    service: str
    check: Any
    rule: Any
    expr: Expr
    path: tuple[str | int, ...]
    canonical: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "canonical", self.expr.canonical())


def compare(draft: Draft, view: ConfigView) -> list[Drift]:
    """Every disagreement between the document's draft and the config, in the document's order."""
    found: list[Drift] = []
    found += _slas(draft, view)
    found += _routes(draft, view)
    matched = _check_matches(draft, view, found)
    rules = _Rules(list(_config_rules(view)))
    positions = {(c.service, c.name): i for i, c in enumerate(draft.checks)}
    for rule in draft.rules:
        position = positions.get((rule.service, rule.check))
        target = matched.get(position) if position is not None else None
        if target is not None:  # else its check is missing: reported once, as a check
            found += _rule(rule, view, target, rules)
    found += _unmentioned(view, rules)
    found += _escalation(draft, view)
    found += _schedules(draft, view)
    found += _windows(draft, view)
    found += _secrets(draft, view)
    found += _backups(draft, view)
    found += _capacity(draft, view)
    return found


@dataclass
class _Rules:
    """The config's rules, indexed by check and what they measure, and those a document rule matched."""

    placed: list[_Placed]
    used: set[int] = field(default_factory=set)
    by_operand: dict[tuple[int, tuple[str, str, str]], list[int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for n, hit in enumerate(self.placed):
            self.by_operand.setdefault((id(hit.check), _operand(hit.expr)), []).append(n)

    def like(self, check: Any, expr: Expr) -> list[int]:
        return self.by_operand.get((id(check), _operand(expr)), [])


def _operand(expr: Expr) -> tuple[str, str, str]:
    return expr.operand.kind, expr.operand.func, expr.operand.field


def _where(part: Any) -> str:
    source = getattr(part, "source", None)
    return source.where if source is not None else "(the document, by default)"


def _slas(draft: Draft, view: ConfigView) -> Iterator[Drift]:
    for level, sla in sorted(draft.slas.items()):
        said = parse_sla(sla.value if sla.value is not None else "none")
        used = view.config.incidents.sla.for_severity(level)
        if said != used:
            yield Drift(
                "sla",
                f"{level.value} response time: the document says {_sla_text(said)}, the config "
                f"says {_sla_text(used)}",
                _where(sla),
                view.at("incidents", "sla", level.value),
            )


def _sla_text(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, timedelta):
        return format_duration(value)
    return str(value).replace("_", " ")


def _routes(draft: Draft, view: ConfigView) -> Iterator[Drift]:
    for level, route in sorted(draft.routes.items()):
        used = view.config.routing.for_severity(level)
        if used.action != route.action:
            yield Drift(
                "routing",
                f"{level.value}: the document says {route.action}, the config says {used.action}",
                _where(route),
                view.at("routing", level.value, "action"),
            )


@lru_cache(maxsize=4096)
def _pattern(template: str) -> re.Pattern[str]:
    """A draft value with ${VARIABLES} as a pattern matching any value put in their place."""
    parts = re.split(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}", template)
    return re.compile(".+".join(re.escape(p) for p in parts) + r"\Z", re.DOTALL)


def _same_check(check: Check, candidate: Any) -> bool:
    if candidate.kind != check.kind:
        return False
    if check.kind == "http":
        return bool(_pattern(str(check.fields.get("url", ""))).match(str(candidate.url)))
    if check.kind == "tls":
        return bool(_pattern(str(check.fields.get("host", ""))).match(str(candidate.host)))
    if check.kind == "command":
        command = candidate.command if isinstance(candidate.command, str) else " ".join(candidate.command)
        return " ".join(command.split()) == " ".join(str(check.fields.get("command", "")).split())
    return True  # one postgres, redis or host check stands for another


def _check_matches(draft: Draft, view: ConfigView, found: list[Drift]) -> dict[int, tuple[str, Any]]:
    """For each document check (by its position), the config check doing the same (service, check); a check
    of the same kind in the same service that probes something else is reported and still matched, so
    the rules on it are compared."""
    matched: dict[int, tuple[str, Any]] = {}
    by_kind: dict[str, list[tuple[str, Any]]] = {}
    for entry in view.config.services:
        for candidate in entry.checks:
            by_kind.setdefault(candidate.kind, []).append((entry.name, candidate))
    for position, check in enumerate(draft.checks):
        hit = next(((n, c) for n, c in by_kind.get(check.kind, []) if _same_check(check, c)), None)
        if hit is not None:
            matched[position] = hit
            continue
        near = [
            (i, k, s.name, c)
            for i, s in enumerate(view.config.services)
            for k, c in enumerate(s.checks)
            if s.name == check.service and c.kind == check.kind
        ]
        if near:
            i, k, service, other = near[0]
            matched[position] = (service, other)
            found.append(
                Drift(
                    "check",
                    f"the document's {check.kind} check probes {check.target}; the config's "
                    f"{service}/{other.name} probes {other.target()}",
                    _where(check),
                    view.at("services", i, "checks", k),
                )
            )
            continue
        found.append(
            Drift(
                "check",
                f"the document lists a {check.kind} check ({check.target}) that no "
                f"check of the config performs",
                _where(check),
                view.at("services"),
            )
        )
    return matched


def _config_rules(view: ConfigView) -> Iterator[_Placed]:
    for i, service in enumerate(view.config.services):
        for j, rule in enumerate(service.rules):
            targets = [c for c in service.checks if rule.check in (None, c.name)]
            for check in targets:
                yield _Placed(service.name, check, rule, rule.expr(), ("services", i, "rules", j))
        for k, check in enumerate(service.checks):
            for j, own in enumerate(check.rules):
                yield _Placed(service.name, check, own, own.expr(), ("services", i, "checks", k, "rules", j))


def _failures_of(view: ConfigView, service: str, check: Any) -> tuple[int, tuple[str | int, ...]]:
    """The consecutive failures that fire a check's default rule, and where that is said."""
    for i, entry in enumerate(view.config.services):
        for k, candidate in enumerate(entry.checks):
            if entry.name == service and candidate is check and check.failures is not None:
                return check.failures, ("services", i, "checks", k, "failures")
    return view.config.alerting.default_failures, ("alerting", "default_failures")


def _rule(rule: Rule, view: ConfigView, target: tuple[str, Any], rules: _Rules) -> Iterator[Drift]:
    try:
        said = parse(rule.when)
    except ExprError:
        return
    candidates = rules.like(target[1], said)
    if not candidates:
        if said.operand.kind == "failures":
            yield from _default_failures(rule, said, view, target)
            return
        yield Drift(
            "rule",
            f"the document's alert '{rule.when}' has no rule in the config "
            f"({target[0]}/{target[1].name} measures it)",
            _where(rule),
            view.at("services"),
        )
        return
    wanted = said.canonical()
    best = min(
        candidates,
        key=lambda n: (
            rules.placed[n].canonical != wanted,
            rules.placed[n].rule.rule_name() != rule.name,
        ),
    )
    rules.used.add(best)
    yield from _rule_values(rule, said, rules.placed[best], view)


def _default_failures(rule: Rule, said: Expr, view: ConfigView, target: tuple[str, Any]) -> Iterator[Drift]:
    count, path = _failures_of(view, target[0], target[1])
    if count != int(said.threshold or 0):
        yield Drift(
            "rule",
            f"{target[0]}/{target[1].name}: the document alerts after {int(said.threshold or 0)} "
            f"consecutive failures, the config after {count}",
            _where(rule),
            view.at(*path),
        )
    severity = view.config.alerting.default_severity
    if rule.severity is not None and rule.severity != severity:
        yield Drift(
            "rule",
            f"{target[0]}/{target[1].name} failures: the document says {rule.severity.value}, the "
            f"config's default rule is {severity.value}",
            _where(rule),
            view.at("alerting", "default_severity"),
        )


def _rule_values(rule: Rule, said: Expr, hit: _Placed, view: ConfigView) -> Iterator[Drift]:
    name = f"{hit.service}/{hit.rule.rule_name()}"
    if (said.op, said.threshold) != (hit.expr.op, hit.expr.threshold) or said.hold != hit.expr.hold:
        yield Drift(
            "rule",
            f"{name}: the document says '{said.canonical()}', the config says '{hit.expr.canonical()}'",
            _where(rule),
            view.at(*hit.path, "when"),
        )
    used = hit.rule.severity or view.config.alerting.default_severity
    wanted = rule.severity or view.config.alerting.default_severity
    if used != wanted:
        yield Drift(
            "rule",
            f"{name}: the document says {wanted.value}, the config says {used.value}",
            _where(rule),
            view.at(*hit.path, "severity"),
        )


def _unmentioned(view: ConfigView, rules: _Rules) -> Iterator[Drift]:
    """Rules of the config that page and that the document never mentions."""
    mentioned = {id(rules.placed[n].rule) for n in rules.used}
    for hit in rules.placed:
        if id(hit.rule) in mentioned:
            continue
        severity = hit.rule.severity or view.config.alerting.default_severity
        if view.config.routing.for_severity(severity).action != "page":
            continue
        mentioned.add(id(hit.rule))  # a service rule on several checks is reported once
        yield Drift(
            "unmentioned",
            f"the config pages ({severity.value}) on {hit.service}/{hit.rule.rule_name()} "
            f"'{hit.rule.when}', which the document never mentions",
            "(not in the document)",
            view.at(*hit.path),
        )


def _escalation(draft: Draft, view: ConfigView) -> Iterator[Drift]:
    policies = {p.name: (i, p) for i, p in enumerate(view.config.escalation_policies)}
    for name, policy in draft.policies.items():
        if name not in policies:
            yield Drift(
                "escalation",
                f"the document's escalation path ({len(policy.levels)} levels) has no policy "
                f"'{name}' in the config",
                _where(policy),
                view.at("escalation_policies"),
            )
            continue
        i, used = policies[name]
        if len(used.levels) != len(policy.levels):
            yield Drift(
                "escalation",
                f"escalation '{name}': the document has {len(policy.levels)} levels, the "
                f"config {len(used.levels)}",
                _where(policy),
                view.at("escalation_policies", i, "levels"),
            )
        for j, (level, config_level) in enumerate(zip(policy.levels, used.levels, strict=False)):
            after = level_after(policy.levels, j)
            said = parse_duration(after) if after else None
            if said != config_level.after and j < len(policy.levels) - 1:
                yield Drift(
                    "escalation",
                    f"escalation '{name}' level {j + 1}: the document pages the next level "
                    f"after {after or 'never'}, the config after "
                    f"{format_duration(config_level.after) if config_level.after else 'never'}",
                    _where(level),
                    view.at("escalation_policies", i, "levels", j, "after"),
                )
            kinds = sorted(t.split(":")[0] for t in level.target.split(","))
            if kinds != sorted(t.split(":")[0] for t in config_level.targets):
                yield Drift(
                    "escalation",
                    f"escalation '{name}' level {j + 1}: the document pages "
                    f"{level.target}, the config {', '.join(config_level.targets)}",
                    _where(level),
                    view.at("escalation_policies", i, "levels", j, "targets"),
                )


def _secrets(draft: Draft, view: ConfigView) -> Iterator[Drift]:
    """Rotation periods: the document's secret against the config's secret of the same name."""
    configured = {s.name: (i, s) for i, s in enumerate(view.config.secrets)}
    for secret in draft.secrets:
        if secret.name not in configured:
            yield Drift(
                "secret",
                f"the document's secret '{secret.name}' (rotated every {secret.every}) is not in "
                "the config's inventory",
                _where(secret),
                view.at("secrets"),
            )
            continue
        i, used = configured[secret.name]
        if used.every != parse_duration(secret.every):
            yield Drift(
                "secret",
                f"secret {secret.name}: the document rotates it every {secret.every}, the "
                f"config every {format_duration(used.every)}",
                _where(secret),
                view.at("secrets", i, "every"),
            )


def _backups(draft: Draft, view: ConfigView) -> Iterator[Drift]:
    """Backup jobs: retention, RPO and RTO as the document gives them."""
    configured = {j.name: (i, j) for i, j in enumerate(view.config.backups)}
    for job in draft.jobs:
        name = job.fields["name"]
        if name not in configured:
            yield Drift(
                "backup",
                f"the document's backup '{name}' is not a backup job of the config",
                _where(job),
                view.at("backups"),
            )
            continue
        i, used = configured[name]
        said_days = (job.fields.get("retention") or {}).get("days")
        used_days = used.retention.days if used.retention else None
        if said_days is not None and said_days != used_days:
            yield Drift(
                "backup",
                f"backup {name}: the document keeps {said_days} days, the config "
                f"{used_days if used_days is not None else 'no retention'}",
                _where(job),
                view.at("backups", i, "retention"),
            )
        for key in ("rpo", "rto"):
            said = job.fields.get(key)
            value = getattr(used, key)
            if said and parse_duration(said) != value:
                yield Drift(
                    "backup",
                    f"backup {name}: the document's {key.upper()} is {said}, the config's "
                    f"{format_duration(value) if value else 'none'}",
                    _where(job),
                    view.at("backups", i, key),
                )


def _capacity(draft: Draft, view: ConfigView) -> Iterator[Drift]:
    """The scaling plan: each level of the document's plan and its action."""
    configured = {r.name: (i, r) for i, r in enumerate(view.config.capacity.resources)}
    for resource in draft.resources:
        name = resource.fields["name"]
        if name not in configured:
            yield Drift(
                "capacity",
                f"the document's scaling plan for {name} is not in the config",
                _where(resource),
                view.at("capacity"),
            )
            continue
        i, used = configured[name]
        plan = {float(step["at"]): step["action"] for step in resource.fields["plan"]}
        if plan != used.actions():
            levels = ", ".join(f"{at:g}" for at in sorted(plan))
            has = ", ".join(f"{at:g}" for at in sorted(used.actions())) or "none"
            yield Drift(
                "capacity",
                f"capacity {name}: the document's plan acts at {levels}, the config's at {has} "
                "(or with other actions)",
                _where(resource),
                view.at("capacity", "resources", i, "plan"),
            )


def _schedules(draft: Draft, view: ConfigView) -> Iterator[Drift]:
    """The document's rotation against the config's schedule of the same name: turn, handoff, zone, people."""
    configured = {s.name: (i, s) for i, s in enumerate(view.config.schedules)}
    for name, schedule in draft.schedules.items():
        if name not in configured:
            yield Drift(
                "schedule",
                f"the document's rotation '{name}' has no schedule in the config",
                _where(schedule),
                view.at("schedules"),
            )
            continue
        i, used = configured[name]
        layer = used.layers[0]
        said = {"turn": format_duration(parse_duration(schedule.turn)), "timezone": schedule.timezone}
        found = {"turn": format_duration(layer.turn), "timezone": used.timezone}
        if schedule.handoff:
            said["handoff"], found["handoff"] = schedule.handoff, str(layer.handoff)
        for key, value in said.items():
            if found[key] != value:
                path = (
                    ("schedules", i, "timezone") if key == "timezone" else ("schedules", i, "layers", 0, key)
                )
                yield Drift(
                    "schedule",
                    f"schedule {name}: the document says {key} {value}, the config says {found[key]}",
                    _where(schedule),
                    view.at(*path),
                )
        people = [u for u in schedule.users if u in draft.users and draft.users[u].full_name]
        if people and sorted(people) != sorted(layer.users):
            yield Drift(
                "schedule",
                f"schedule {name}: the document rotates {', '.join(people)}, the config "
                f"{', '.join(layer.users)}",
                _where(schedule),
                view.at("schedules", i, "layers", 0, "users"),
            )


def _windows(draft: Draft, view: ConfigView) -> Iterator[Drift]:
    configured = list(enumerate(view.config.maintenance_windows))
    for window in draft.windows:
        same = [
            (i, w)
            for i, w in configured
            if " ".join(w.cron.split()) == window.cron and w.timezone == window.timezone
        ]
        if not same:
            yield Drift(
                "window",
                f"the document's maintenance window (cron '{window.cron}', {window.timezone}) is "
                "not in the config",
                _where(window),
                view.at("maintenance_windows"),
            )
            continue
        i, used = same[0]
        if used.duration != parse_duration(window.duration):
            yield Drift(
                "window",
                f"maintenance window {used.name}: the document says {window.duration}, the config "
                f"says {format_duration(used.duration)}",
                _where(window),
                view.at("maintenance_windows", i, "duration"),
            )
