"""A `Draft` → the data of opsbook.yaml, every entry noted with the line it came from and what was assumed,
and the variables to export listed at the top."""

from __future__ import annotations

from typing import Any

from opsbook.docimport.domains import secret_owner
from opsbook.docimport.model import Draft, Part, Schedule, User
from opsbook.docimport.oncall import level_after
from opsbook.docimport.statements import Statement
from opsbook.docimport.yamlwrite import Noted, dump
from opsbook.rules.severity import Severity

_QUOTE_LIMIT = 110


def cite(statement: Statement | None) -> str:
    """`OPERATIONS.md:142 "API p95 response time > 500ms for 5 minutes"`."""
    if statement is None:
        return "not in the document"
    words = " ".join((statement.source or statement.text).split())
    if len(words) > _QUOTE_LIMIT:
        words = words[: _QUOTE_LIMIT - 1] + "…"
    return f'{statement.where} "{words}"'


def _noted(value: Any, part: Part | None) -> Noted:
    if part is None:
        return Noted(value)
    return Noted(value, [cite(part.source), *(f"assumed: {n}" for n in part.notes)])


def render(draft: Draft, runbook_folders: list[str]) -> str:
    """The draft as YAML text."""
    return dump(data(draft, runbook_folders), header(draft))


def header(draft: Draft) -> list[str]:
    lines = [
        f"Draft opsbook.yaml read from {', '.join(draft.files)} by `opsbook init --from`.",
        "Every entry names the line it came from; 'assumed:' marks what the document did not say.",
        "Review it, export these variables, then run `opsbook validate`:",
    ]
    if not draft.variables:
        return lines[:2]
    width = max(len(name) for name in draft.variables)
    for variable in draft.variables.values():
        where = f" ({variable.source.where})" if variable.source else ""
        lines.append(
            f"  export {variable.name}=...{' ' * (width - len(variable.name))}  # {variable.hint}{where}"
        )
    return lines


def data(draft: Draft, runbook_folders: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"version": 1}
    if draft.title:
        out["title"] = draft.title
    if draft.timezone:
        out["timezone"] = draft.timezone
    out["services"] = _services(draft)
    if draft.targets:
        out["slos"] = _slos(draft)
    if draft.secrets:
        secret_owner(draft)  # a user, so written with the others
    _oncall(draft, out)
    if draft.windows:
        out["maintenance_windows"] = [_noted(_window(w), w) for w in draft.windows]
    _domains(draft, out)
    if draft.channels:
        out["channels"] = [_noted({"name": c.name, "url": c.url}, c) for c in draft.channels.values()]
    if draft.routes:
        out["routing"] = _routing(draft)
    if runbook_folders:
        out["runbooks"] = Noted(
            {"folders": list(runbook_folders)},
            ["the document's procedures (headings with steps): opsbook runbook import"],
        )
    incidents = _incidents(draft)
    if incidents:
        out["incidents"] = incidents
    return out


def _domains(draft: Draft, out: dict[str, Any]) -> None:
    """`secrets:`, `backups:` and `capacity:`."""
    if draft.secrets:
        owner = secret_owner(draft)
        entries = []
        for secret in draft.secrets:
            entry: dict[str, Any] = {"name": secret.name, "owner": owner, "every": secret.every}
            noted = _noted(entry, secret)
            if draft.emergency:
                entry["emergency_within"] = draft.emergency[0]
                noted.comments.append(f"emergency_within: {cite(draft.emergency[1])}")
            entries.append(noted)
        out["secrets"] = entries
    if draft.chores:
        out["chores"] = [_noted(dict(c.fields), c) for c in draft.chores]
    if draft.jobs:
        out["backups"] = [_noted(dict(job.fields), job) for job in draft.jobs]
    if draft.resources:
        out["capacity"] = {"resources": [_noted(dict(r.fields), r) for r in draft.resources]}
    if draft.freezes:
        freezes = []
        for freeze in draft.freezes:
            entry = {
                "name": freeze.name,
                "cron": freeze.cron,
                "duration": freeze.duration,
                "timezone": freeze.timezone,
                "reason": freeze.source.full if freeze.source else "",
            }
            freezes.append(_noted(entry, freeze))
        out["deploys"] = {"freezes": freezes}


def _routing(draft: Draft) -> dict[str, Any]:
    routing: dict[str, Any] = {}
    for level in Severity:
        route = draft.routes.get(level)
        if route is None:
            continue
        entry: dict[str, Any] = {"action": route.action}
        if route.channels and route.action != "log":
            entry["channels"] = list(route.channels)
        if route.business_hours_only:
            entry["business_hours_only"] = True
        routing[level.value] = _noted(entry, route)
    return routing


def _incidents(draft: Draft) -> dict[str, Any]:
    incidents: dict[str, Any] = {}
    if draft.slas:
        incidents["sla"] = {
            level.value: _noted(sla.value if sla.value is not None else "none", sla)
            for level, sla in sorted(draft.slas.items())
        }
    if draft.update_channels:
        incidents["update_channels"] = list(draft.update_channels)
    return incidents


def _services(draft: Draft) -> list[Any]:
    services: list[Any] = []
    for name in draft.service_names():
        own = [c for c in draft.checks if c.service == name]
        entry: dict[str, Any] = {"name": name, "checks": []}
        for check in own:
            fields = {"name": check.name, "kind": check.kind, **check.fields}
            rules_here = [r for r in draft.rules if r.service == name and r.check == check.name]
            noted = _noted(fields, check)
            if any(r.when.startswith("failures") for r in rules_here):
                fields["failures"] = 0
                noted.comments.append(
                    "its default failures rule is off: the document's rule below replaces it"
                )
            entry["checks"].append(noted)
        rules = []
        for rule in (r for r in draft.rules if r.service == name):
            body: dict[str, Any] = {"name": rule.name, "check": rule.check, "when": rule.when}
            if rule.severity is not None:
                body["severity"] = rule.severity.value
            if rule.runbook:
                body["runbook"] = rule.runbook
            if rule.paged:
                body["labels"] = {"paged": rule.paged}
            rules.append(_noted(body, rule))
        if rules:
            entry["rules"] = rules
        services.append(Noted(entry))
    return services


def _slos(draft: Draft) -> list[Any]:
    """The document's uptime target (the first, if it states several) for each service it probes over
    HTTP, or for every service if it probes none that way."""
    target = draft.targets[0]
    names = draft.service_names()
    probed = [n for n in names if any(c.service == n and c.kind == "http" for c in draft.checks)] or names
    return [_noted({"service": name, "availability": f"{target.percent}%", "window": target.window}, target)
            for name in probed]


def _oncall(draft: Draft, out: dict[str, Any]) -> None:
    for schedule in draft.schedules.values():
        _fill_users(draft, schedule)
    if draft.users:
        out["users"] = [_noted(_user(u), u) for u in draft.users.values()]
    if draft.schedules:
        out["schedules"] = [_noted(_schedule(s), s) for s in draft.schedules.values()]
    if draft.policies:
        policies = []
        for policy in draft.policies.values():
            levels = []
            for position, level in enumerate(policy.levels):
                entry: dict[str, Any] = {"targets": level.target.split(",")}
                after = level_after(policy.levels, position)
                if after:
                    entry["after"] = after
                levels.append(_noted(entry, level))
            policies.append(_noted({"name": policy.name, "levels": levels}, policy))
        out["escalation_policies"] = policies


def _fill_users(draft: Draft, schedule: Schedule) -> None:
    """A rotation naming nobody gets one placeholder user (a layer needs someone)."""
    if schedule.users:
        return
    name = "on-call-engineer"
    if name not in draft.users:
        contact = draft.variable(
            "ON_CALL_ENGINEER_CONTACT", "an Apprise URL reaching the on-call engineer", schedule.source
        )
        draft.users[name] = User(
            schedule.source, ["the document names nobody: one placeholder"], name=name, contact=contact
        )
    schedule.users = [name]


def _user(user: User) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": user.name}
    if user.full_name:
        entry["full_name"] = user.full_name
    if user.email:
        entry["email"] = user.email
    if user.contact:
        entry["contacts"] = [{"url": user.contact}]
    return entry


def _schedule(schedule: Schedule) -> dict[str, Any]:
    layer: dict[str, Any] = {"name": "rotation", "users": list(schedule.users), "turn": schedule.turn}
    if schedule.handoff:
        layer["handoff"] = schedule.handoff
    layer["start"] = schedule.start
    if schedule.restrictions:
        layer["restrictions"] = list(schedule.restrictions)
    return {"name": schedule.name, "timezone": schedule.timezone, "layers": [layer]}


def _window(window: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": window.name,
        "title": window.title,
        "cron": window.cron,
        "duration": window.duration,
        "timezone": window.timezone,
    }
    if window.services:
        entry["services"] = list(window.services)
    else:
        entry["match"] = {"service": ".*"}
    return entry
