"""The dependency graph, pure: root causes, dependents, and what `opsbook validate` says of wrong
`depends_on` entries (file, line, field)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opsbook.config.loader import parse_config
from opsbook.config.yamlpos import ConfigError
from opsbook.dependencies.graph import Graph, build, problems


def svc(name: str, deps: list[str] = [], checks: dict[str, list[str]] | None = None) -> SimpleNamespace:  # noqa: B006
    return SimpleNamespace(name=name, depends_on=deps, checks=[
        SimpleNamespace(name=c, depends_on=d) for c, d in (checks or {"health": []}).items()
    ])


FLEET = [svc("db"), svc("cache", ["db"]), svc("api", ["cache"], {"health": [], "search": ["es"]}), svc("es")]


def test_the_root_is_the_deepest_dependency_down() -> None:
    graph = build(FLEET)
    assert graph.root_of("api/health", {"cache", "db", "api"}) == "db"  # cache is down because of db
    assert graph.root_of("api/health", {"cache", "api"}) == "cache"
    assert graph.root_of("api/health", {"db"}) == "db"  # through cache, itself still up
    assert graph.root_of("api/health", {"es"}) is None  # only api/search needs es
    assert graph.root_of("api/search", {"es"}) == "es"
    assert graph.root_of("db/health", {"db", "cache"}) is None


def test_dependents_are_transitive() -> None:
    graph = build(FLEET)
    assert graph.dependents("db") == {"cache", "cache/health", "api", "api/health", "api/search"}
    assert graph.dependents("es") == {"api", "api/search"}
    assert graph.dependents("api") == set()


def test_unknown_names_and_cycles_are_problems_at_their_entries() -> None:
    found = problems([svc("db", ["api"]), svc("api", ["db", "nosuch"], {"http": ["api/http", "db/nope"]})])
    assert [(p.loc, p.message) for p in found] == [
        (("services", 1, "depends_on", 0), "a dependency cycle: api → db → api"),
        (("services", 1, "depends_on", 1),
         "unknown service or check 'nosuch' (a service name or 'service/check')"),
        (("services", 1, "checks", 0, "depends_on", 0), "api/http cannot depend on its own service 'api'"),
        (("services", 1, "checks", 0, "depends_on", 1),
         "unknown service or check 'db/nope' (a service name or 'service/check')"),
    ]


@given(st.lists(st.lists(st.integers(0, 7), max_size=4), min_size=2, max_size=8), st.data())
def test_acyclic_graphs_pass_and_one_back_edge_is_found(edges: list[list[int]], data: st.DataObject) -> None:
    """Service i may depend only on services with smaller numbers: no cycle; then one of them depends on
    a service that (transitively) depends on it: the entries that close a cycle are reported with it."""
    names = [f"s{i}" for i in range(len(edges))]
    deps = [sorted({names[j] for j in targets if j < i}) for i, targets in enumerate(edges)]
    assert problems([svc(n, d) for n, d in zip(names, deps, strict=True)]) == []
    graph = build([svc(n, d) for n, d in zip(names, deps, strict=True)])
    lower = [i for i in range(len(names)) if graph.dependents(names[i])]
    if not lower:
        return
    i = data.draw(st.sampled_from(lower))
    upper = data.draw(st.sampled_from(sorted(graph.dependents(names[i]) & set(names))))
    deps[i] = [*deps[i], upper]
    found = problems([svc(n, d) for n, d in zip(names, deps, strict=True)])
    assert found, "the cycle is found"
    for problem in found:  # each entry that closes a cycle, with the cycle through it
        _, where, _, j = problem.loc
        assert isinstance(where, int) and isinstance(j, int)
        cycle = problem.message.removeprefix("a dependency cycle: ").split(" → ")
        assert cycle[0] == cycle[-1] == names[where] and cycle[1] == deps[where][j]


def test_validate_names_file_line_and_field() -> None:
    text = """
services:
  - name: db
    depends_on: [api]
    checks:
      - {kind: tcp, name: primary, host: 127.0.0.1, port: 5432}
  - name: api
    depends_on: [db]
    checks:
      - {kind: tcp, name: http, host: 127.0.0.1, port: 80, depends_on: [cache]}
"""
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "opsbook.yaml", {})
    assert str(caught.value).splitlines() == [
        "opsbook.yaml:8: services[1].depends_on[0]: a dependency cycle: api → db → api",
        "opsbook.yaml:10: services[1].checks[0].depends_on[0]: unknown service or check 'cache' "
        "(a service name or 'service/check')",
    ]


def test_a_valid_graph_loads() -> None:
    text = """
services:
  - name: db
    checks: [{kind: tcp, name: primary, host: 127.0.0.1, port: 5432}]
  - name: api
    depends_on: [db/primary]
    checks: [{kind: tcp, name: http, host: 127.0.0.1, port: 80, depends_on: [db]}]
dependencies: {hold: 30s, grace: 10m}
"""
    config = parse_config(text, "opsbook.yaml", {}).config
    assert build(config.services) == Graph({"api": ("db/primary", "db"), "api/http": ("db", "db/primary")})
    assert config.dependencies.grace.total_seconds() == 600
