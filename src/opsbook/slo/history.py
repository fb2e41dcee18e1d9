"""What the objectives are computed from: which checks decide whether a service is up (their state
changes, the exact log `checks.store` writes, are read by `checks.uptime.state_histories`), and the
service's maintenance, read from the config and the store."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbook.config.schema import OpsbookConfig
from opsbook.silences import store
from opsbook.silences.models import MaintenanceRow
from opsbook.silences.mute import covered_services
from opsbook.silences.windows import occurrences_between
from opsbook.slo.config import SloConfig
from opsbook.slo.timeline import Spans, micros, union


def slo_checks(config: OpsbookConfig, slo: SloConfig) -> list[str]:
    """The check ids that decide whether the service is up: those named, else all its enabled checks."""
    service = next(s for s in config.services if s.name == slo.service)
    names = slo.checks or [c.name for c in service.checks if c.enabled]
    return [f"{slo.service}/{name}" for name in names]


def maintenance(
    session: Session, config: OpsbookConfig, service: str, start: datetime, end: datetime
) -> Spans:
    """The service's maintenance overlapping [start, end): the recurring windows and the one-off ones that
    cover it (`silences.mute.covered_services`, as the status page sees them; a one-off window cancelled
    after it began up to its cancellation)."""
    scoped = [s for s in config.services if s.name == service]
    found: list[tuple[int, int]] = []
    for cfg in config.maintenance_windows:
        window = cfg.to_window()
        if covered_services(window, scoped):
            found += [(micros(o.start), micros(o.end)) for o in occurrences_between(window, start, end)]
    rows = session.scalars(
        select(MaintenanceRow).where(MaintenanceRow.starts_at < end, MaintenanceRow.ends_at > start)
    )
    for row in rows:
        one_off = store.to_window(row)
        if covered_services(one_off, scoped) and one_off.effective_end > one_off.starts_at:
            found.append((micros(one_off.starts_at), micros(one_off.effective_end)))
    return union(found)
