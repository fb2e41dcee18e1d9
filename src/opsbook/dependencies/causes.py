"""Which firing alerts a down dependency causes: marking them (recorded, not announced on their own) and
finding them again for the root cause's message and incident.

A caused alert carries the mark `silenced_by = "caused by <root>"` (`root`: a service or check id), so
every page that shows why an alert was not announced shows its cause, and its resolve is not announced
either (its firing never was); `release.py` lifts the mark when the root recovered and the grace passed.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from opsbook.alerts.models import AlertRow
from opsbook.alerts.types import AlertTransition, TransitionKind
from opsbook.checks.models import CheckStateRow
from opsbook.config.schema import OpsbookConfig
from opsbook.dependencies.graph import Graph, build
from opsbook.locations.units import split

CAUSED = "caused by "
HELD = "waiting for its dependents until "

_GRAPHS: dict[int, tuple[OpsbookConfig, Graph]] = {}


def graph_of(config: OpsbookConfig) -> Graph:
    """The graph of this config (built once per loaded config)."""
    found = _GRAPHS.get(id(config))
    if found is not None and found[0] is config:
        return found[1]
    if len(_GRAPHS) > 64:
        _GRAPHS.clear()
    graph = build(config.services)
    _GRAPHS[id(config)] = (config, graph)
    return graph


def mark(root: str) -> str:
    return f"{CAUSED}{root}"


def held_until(silenced_by: str | None) -> datetime | None:
    """When a dependency's held firing is announced, or None for any other alert."""
    return datetime.fromisoformat(silenced_by[len(HELD):]) if silenced_by and silenced_by.startswith(HELD) \
        else None


def is_ours(silenced_by: str | None) -> bool:
    """Whether the mark is this module's (caused or held), which silences' unmuting leaves alone."""
    return bool(silenced_by) and (cause_of(silenced_by) is not None or held_until(silenced_by) is not None)


def cause_of(silenced_by: str | None) -> str | None:
    """The root named by a caused alert's mark, or None for any other alert."""
    return silenced_by[len(CAUSED):] if silenced_by and silenced_by.startswith(CAUSED) else None


def node_of(service: str, check_id: str | None) -> str:
    return check_id or service


def down_nodes(session: Session) -> set[str]:
    """Services and checks with a firing alert, and checks whose last result failed (with their
    services): a dependency whose own alert has not fired yet (`failures: 3`) is down all the same."""
    rows = session.execute(select(AlertRow.service, AlertRow.check_id).where(AlertRow.state == "firing"))
    found = {n for service, check_id in rows for n in (service, check_id) if n}
    failing = session.scalars(select(CheckStateRow.check_id).where(CheckStateRow.status == "down"))
    return found | {n for check_id in failing if split(check_id)[1] is None  # one location is not the check
                    for n in (check_id, check_id.split("/", 1)[0])}


def mark_caused(
    session: Session, config: OpsbookConfig, transitions: Sequence[AlertTransition], now: datetime
) -> list[AlertTransition]:
    """Fired alerts not muted otherwise whose dependency is down: marked caused by the root, on their rows
    and in the transitions (so they are not announced). Alerts of something others depend on are held for
    `dependencies.hold` (release.py announces them), so their page counts the dependents that fail too."""
    graph = graph_of(config)
    candidates = [t for t in transitions if t.kind is TransitionKind.FIRED and not t.silenced]
    if not graph.deps or not candidates:
        return list(transitions)
    down = down_nodes(session)
    out = []
    for transition in transitions:
        why = _why_silent(graph, config, transition, down, now) if transition in candidates else None
        if why is not None:
            row = session.get(AlertRow, transition.alert_id)
            if row is not None:
                row.silenced, row.silenced_by = True, why
            transition = replace(transition, silenced=True)
        out.append(transition)
    return out


def _why_silent(graph: Graph, config: OpsbookConfig, t: AlertTransition, down: set[str],
                now: datetime) -> str | None:
    """Caused by a root that is down, or held (others depend on it), or None: announce it now."""
    node = node_of(t.service, t.check_id)
    root = graph.root_of(node, down)
    if root is not None:
        return mark(root)
    fresh = now < t.since + config.dependencies.hold  # not one whose hold just ended, or long firing
    if fresh and (graph.dependents(node) or graph.dependents(t.service)):
        return f"{HELD}{(now + config.dependencies.hold).isoformat()}"
    return None


def caused_alerts(session: Session, service: str, check_id: str | None) -> list[AlertRow]:
    """The firing alerts caused by this service or check (an alert of it is their root)."""
    roots = [mark(service)] + ([mark(check_id)] if check_id else [])
    return list(session.scalars(
        select(AlertRow).where(AlertRow.state == "firing", or_(*(AlertRow.silenced_by == r for r in roots)))
        .order_by(AlertRow.service, AlertRow.id)
    ))


def affected_services(session: Session, service: str, check_id: str | None) -> tuple[str, ...]:
    """The other services with alerts this service or check causes, by name."""
    return tuple(sorted({a.service for a in caused_alerts(session, service, check_id)} - {service}))


def incidents_with_caused(session: Session, incident_ids: Collection[int]) -> set[int]:
    """Those of the incidents that hold alerts a dependency caused (the incident of a root cause)."""
    if not incident_ids:
        return set()
    from opsbook.incidents.models import IncidentAlertRow

    return set(session.scalars(
        select(IncidentAlertRow.incident_id).join(AlertRow, AlertRow.id == IncidentAlertRow.alert_id)
        .where(IncidentAlertRow.incident_id.in_(incident_ids), AlertRow.silenced_by.startswith(CAUSED))
        .distinct()
    ))
