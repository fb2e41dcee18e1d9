"""What the recognisers found in a document, before it is written as YAML: the draft's parts, each with
the statement it came from, and every statement's fate (mapped, not yet supported, or not understood)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from opsbook.docimport.statements import Statement
from opsbook.rules.severity import Severity


@dataclass
class Variable:
    """A `${NAME}` the draft reads from the environment: a placeholder of the document or a secret."""

    name: str
    hint: str
    source: Statement | None = None


@dataclass
class Part:
    """Anything the draft declares, with the statement it came from and what was assumed."""

    source: Statement | None
    notes: list[str] = field(default_factory=list)


@dataclass
class Check(Part):
    service: str = ""
    name: str = ""
    kind: str = ""
    fields: dict[str, Any] = field(default_factory=dict)
    target: str = ""
    """What it probes, as the document says it (for matching with a config's checks)."""


@dataclass
class Rule(Part):
    service: str = ""
    check: str = ""
    name: str = ""
    when: str = ""
    severity: Severity | None = None
    paged: str = ""
    runbook: str = ""
    """The procedure to follow when it fires, as the document names it."""


@dataclass
class Target(Part):
    """An uptime target the document states: an availability objective of the services it probes."""

    percent: str = ""
    window: str = "30d"


@dataclass
class Sla(Part):
    severity: Severity = Severity.P0
    value: str | None = None
    """'5m', 'next business day', or None for no deadline."""


@dataclass
class Route(Part):
    severity: Severity = Severity.P0
    action: str = "page"
    channels: list[str] = field(default_factory=list)
    business_hours_only: bool = False


@dataclass
class Channel(Part):
    name: str = ""
    url: str = ""
    kind: str = ""


@dataclass
class User(Part):
    name: str = ""
    full_name: str = ""
    contact: str = ""
    email: str = ""


@dataclass
class Schedule(Part):
    name: str = ""
    users: list[str] = field(default_factory=list)
    turn: str = "1w"
    handoff: str = ""
    timezone: str = "UTC"
    start: str = ""
    restrictions: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Level(Part):
    target: str = ""
    at_seconds: float = 0.0
    """When this level is paged, counted from the start of the incident."""


@dataclass
class Policy(Part):
    name: str = ""
    levels: list[Level] = field(default_factory=list)


@dataclass
class Window(Part):
    name: str = ""
    title: str = ""
    cron: str = ""
    duration: str = ""
    timezone: str = "UTC"
    services: list[str] = field(default_factory=list)


@dataclass
class Secret(Part):
    name: str = ""
    every: str = ""


@dataclass
class Job(Part):
    """A backup job: its `backups:` entry as written."""

    fields: dict[str, Any] = field(default_factory=dict)


@dataclass
class Resource(Part):
    """A capacity resource: its `capacity.resources` entry as written."""

    fields: dict[str, Any] = field(default_factory=dict)


@dataclass
class Chore(Part):
    """A recurring chore: its `chores:` entry as written."""

    fields: dict[str, Any] = field(default_factory=dict)


@dataclass
class Fate:
    """What became of one statement."""

    statement: Statement
    status: str
    """'mapped', 'unsupported' (understood; its domain is not in opsbook.yaml yet) or 'unknown'."""
    what: str = ""


@dataclass
class Draft:
    """Everything read from the document(s)."""

    files: list[str] = field(default_factory=list)
    title: str = ""
    timezone: str = ""
    variables: dict[str, Variable] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    slas: dict[Severity, Sla] = field(default_factory=dict)
    targets: list[Target] = field(default_factory=list)
    """Uptime targets ("Uptime Target: 99.9%"): `slos:` of the services probed over HTTP."""
    routes: dict[Severity, Route] = field(default_factory=dict)
    action_channels: dict[str, list[str]] = field(default_factory=dict)
    channels: dict[str, Channel] = field(default_factory=dict)
    update_channels: list[str] = field(default_factory=list)
    users: dict[str, User] = field(default_factory=dict)
    schedules: dict[str, Schedule] = field(default_factory=dict)
    policies: dict[str, Policy] = field(default_factory=dict)
    windows: list[Window] = field(default_factory=list)
    freezes: list[Window] = field(default_factory=list)
    """Deploy freezes: windows in which deploys are refused."""
    secrets: list[Secret] = field(default_factory=list)
    emergency: tuple[str, Statement] | None = None
    """Every secret's emergency rotation deadline, and where the document says it."""
    jobs: list[Job] = field(default_factory=list)
    chores: list[Chore] = field(default_factory=list)
    resources: list[Resource] = field(default_factory=list)
    glossary: dict[str, Severity] = field(default_factory=dict)
    defined: set[str] = field(default_factory=set)
    """Severity words the document itself defines ('P0 (Critical)'); the others read as opsbook's."""
    roles: dict[str, str] = field(default_factory=dict)
    """A role as the document names it (as a name: 'engineering-lead') → the user who holds it."""
    procedures: dict[str, int] = field(default_factory=dict)
    """Runbook procedure steps per section (read by `opsbook runbook import`)."""
    fates: dict[int, Fate] = field(default_factory=dict)
    """By statement index: what became of it."""

    def variable(self, name: str, hint: str, source: Statement | None = None) -> str:
        """`${NAME}`, listed at the top of the draft with its hint."""
        self.variables.setdefault(name, Variable(name, hint, source))
        return "${" + name + "}"

    def mark(self, index: int, statement: Statement, status: str, what: str) -> None:
        """Record a statement's fate; a mapping wins over anything said of it before."""
        known = self.fates.get(index)
        if known is None or (known.status != "mapped" and status == "mapped"):
            self.fates[index] = Fate(statement, status, what)
        elif known.status == status == "mapped" and what and what not in known.what:
            known.what = f"{known.what}; {what}"

    def check_named(self, service: str, name: str) -> Check | None:
        return next((c for c in self.checks if c.service == service and c.name == name), None)

    def checks_of_kind(self, kind: str) -> list[Check]:
        return [c for c in self.checks if c.kind == kind]

    def service_names(self) -> list[str]:
        seen: list[str] = []
        for check in self.checks:
            if check.service not in seen:
                seen.append(check.service)
        return seen
