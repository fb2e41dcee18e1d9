"""The dependency graph of services and checks, and what it decides: which `depends_on` entries are
wrong (unknown names, cycles), and which down dependency is the root cause of an alert.

Nodes are service names (`db`) and check ids (`db/primary`). A check depends on what it declares and on
what its service declares; a service named as a dependency is down when any of its alerts fires, and it
depends on what it and its checks declare. Pure: no database, no clock.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Declared:
    """One `depends_on` entry: who declares it, the name it gives, and where it is in the config."""

    owner: str
    target: str
    loc: Loc


@dataclass(frozen=True)
class Problem:
    loc: Loc
    message: str
    value: str


@dataclass
class Graph:
    """Each node's direct dependencies, in the order declared."""

    deps: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def dependencies(self, node: str) -> tuple[str, ...]:
        return self.deps.get(node, ())

    def root_of(self, node: str, down: Collection[str]) -> str | None:
        """The dependency of `node` (transitively) that is down and not itself caused by another one
        down, or None: the first found in the order declared, depth first."""
        return _root(self, node, frozenset(down), set())

    def dependents(self, root: str) -> set[str]:
        """Every node that depends on `root`, directly or not."""
        found: set[str] = set()
        changed = True
        while changed:
            changed = False
            for node, deps in self.deps.items():
                if node not in found and any(d == root or d in found for d in deps):
                    found.add(node)
                    changed = True
        return found


def _root(graph: Graph, node: str, down: frozenset[str], seen: set[str]) -> str | None:
    for dep in graph.dependencies(node):
        if dep in seen:
            continue
        seen.add(dep)
        deeper = _root(graph, dep, down, seen)
        if deeper is not None:
            return deeper
        if dep in down:
            return dep
    return None


def service_of(node: str) -> str:
    return node.split("/", 1)[0]


def declared(services: Iterable[Any]) -> Iterator[Declared]:
    """Every `depends_on` entry of the services (`config.services`) and their checks, with its place."""
    for i, service in enumerate(services):
        for j, target in enumerate(getattr(service, "depends_on", ()) or ()):
            yield Declared(service.name, target, ("services", i, "depends_on", j))
        for k, check in enumerate(service.checks):
            for j, target in enumerate(getattr(check, "depends_on", ()) or ()):
                where: Loc = ("services", i, "checks", k, "depends_on", j)
                yield Declared(f"{service.name}/{check.name}", target, where)


def build(services: Iterable[Any]) -> Graph:
    """The graph of the services' and checks' declarations (a check also depends on what its service
    declares; a service, as a dependency, on what its checks declare)."""
    services = list(services)
    own: dict[str, list[str]] = {}
    for item in declared(services):
        own.setdefault(item.owner, []).append(item.target)
    deps: dict[str, tuple[str, ...]] = {}
    for service in services:
        of_checks = [t for c in service.checks for t in own.get(f"{service.name}/{c.name}", ())]
        deps[service.name] = tuple(dict.fromkeys([*own.get(service.name, ()), *of_checks]))
        for check in service.checks:
            check_id = f"{service.name}/{check.name}"
            deps[check_id] = tuple(dict.fromkeys([*own.get(check_id, ()), *own.get(service.name, ())]))
    return Graph({node: d for node, d in deps.items() if d})


def problems(services: Iterable[Any]) -> list[Problem]:
    """Entries naming no service or check, and entries that close a cycle (services depending, through
    their checks or not, on themselves)."""
    services = list(services)
    known = {s.name for s in services} | {f"{s.name}/{c.name}" for s in services for c in s.checks}
    out: list[Problem] = []
    edges: dict[str, list[str]] = {}
    for item in declared(services):
        if item.target not in known:
            out.append(Problem(item.loc, f"unknown service or check {item.target!r} (a service name or "
                                         f"'service/check')", item.target))
            continue
        source, target = service_of(item.owner), service_of(item.target)
        if source == target:
            out.append(Problem(item.loc, f"{item.owner} cannot depend on its own service {source!r}",
                               item.target))
            continue
        cycle = _path(edges, target, source)
        if cycle:
            out.append(Problem(item.loc, f"a dependency cycle: {' → '.join([source, *cycle])}", item.target))
            continue
        edges.setdefault(source, []).append(target)
    return out


def _path(edges: dict[str, list[str]], start: str, goal: str) -> list[str]:
    """The services from `start` to `goal` along `edges` (both included), or [] if there is no way."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        node, path = stack.pop()
        if node == goal:
            return path
        if node in seen:
            continue
        seen.add(node)
        stack.extend((nxt, [*path, nxt]) for nxt in edges.get(node, ()))
    return []
