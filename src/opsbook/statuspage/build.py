"""Builds a status page `Snapshot` from the store: a fixed handful of queries however many services.

Only services marked `public: true` are read; maintenance and incidents are kept only when they concern a
public service, and then only with the public services' names.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from opsbook.checks import store
from opsbook.checks.uptime import state_histories
from opsbook.config.schema import OpsbookConfig
from opsbook.silences.service import upcoming_maintenance
from opsbook.slo.shown import public_objectives
from opsbook.statuspage import incidents
from opsbook.statuspage.figures import uptime_text
from opsbook.statuspage.snapshot import (
    PublicMaintenance,
    PublicService,
    Snapshot,
    daily_uptime,
    day_starts,
    incident_named,
    merge_days,
    overall,
    period_uptime,
    service_state,
    watched_since,
)


def build_snapshot(session: Session, config: OpsbookConfig, now: datetime, version: int = 0) -> Snapshot:
    settings = config.status_page
    public = [s for s in config.services if s.public]
    public_names = {s.name for s in public}
    check_ids = {s.name: [f"{s.name}/{c.name}" for c in s.checks if c.enabled] for s in public}
    every_check = [c for ids in check_ids.values() for c in ids]

    states = store.states(session, every_check) if every_check else {}
    starts = day_starts(now, settings.history_days, config.timezone)
    histories = state_histories(session, every_check, starts[0], now)

    maintenance = []
    maintenance_now: set[str] = set()
    for m in upcoming_maintenance(
        session, now, config.maintenance_windows, horizon=timedelta(days=14), services=config.services
    ):
        shown = sorted(s for s in m.services if s in public_names)
        if not shown:
            continue  # concerns no public service: its title may name internal systems
        if m.in_progress:
            maintenance_now.update(shown)
        maintenance.append(
            PublicMaintenance(m.title, m.description, shown, m.starts_at, m.ends_at, m.in_progress)
        )

    active, past = incidents.public_incidents(session, public_names, now, starts[0])
    open_severities: dict[str, list[str]] = defaultdict(list)
    for incident in active:
        for name in incident.services:
            open_severities[name].append(incident.severity)

    objectives = public_objectives(session, config, now)
    services = []
    for service in public:
        ids = check_ids[service.name]
        per_check = [daily_uptime(histories[c].changes, histories[c].before, starts, now) for c in ids]
        bars = merge_days(per_check, starts)
        statuses = [states[c].status if c in states else None for c in ids]
        period = period_uptime(per_check)
        services.append(
            PublicService(
                name=service.name,
                description=service.description,
                state=service_state(statuses, service.name in maintenance_now, open_severities[service.name]),
                uptime_percent=period.percent,
                bars=bars,
                uptime_text=uptime_text(period.up_seconds, period.known_seconds),
                watched_since=watched_since([histories[c].before for c in ids],
                                            [histories[c].changes for c in ids], config.timezone),
                objective=objectives.get(service.name),
            )
        )
    state, sentence = overall((s.name, s.state) for s in services)
    shown_states = {s.name: s.state for s in services}
    active = [incident_named(i, shown_states) for i in active]
    past = [incident_named(i, shown_states) for i in past]
    return Snapshot(
        title=settings.title or config.title,
        description=settings.description,
        logo_url=settings.logo_url,
        built_at=now,
        state=state,
        sentence=sentence,
        services=services,
        active_incidents=active,
        past_incidents=past,
        maintenance=maintenance,
        history_days=settings.history_days,
        version=version,
    )
