"""The DORA report of a period, read from the store: deploys to each service's production environment
(its last configured environment, else `production`) and the incidents on the services, handed to the
pure `deploys.dora`. Shared by `opsbook report deploys`, the deploys page and /metrics."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbook.config.schema import OpsbookConfig
from opsbook.deploys.dora import Change, Dora, Outage, report
from opsbook.deploys.models import DeployRow
from opsbook.incidents.models import IncidentRow


def production(config: OpsbookConfig) -> dict[str, str]:
    """Each service's production environment: the last of its deploy environments, else `production`."""
    return {s.name: s.deploy.environments[-1].name if s.deploy else "production" for s in config.services}


def dora_report(session: Session, config: OpsbookConfig, since: datetime, until: datetime) -> list[Dora]:
    """One row per service with deploys in [since, until], then one for all services."""
    window = config.deploys.change_failure_window
    envs = production(config)
    rows = session.scalars(
        select(DeployRow).where(DeployRow.started_at >= since, DeployRow.started_at < until + window)
    )
    changes = [
        Change(
            r.service,
            r.kind,
            r.status,
            r.started_at,
            r.ended_at,
            r.committed_at,
            r.regression_at,
            r.restore_seconds,
        )
        for r in rows
        if r.env == envs.get(r.service, "production")
    ]
    incidents = session.scalars(
        select(IncidentRow).where(IncidentRow.opened_at >= since, IncidentRow.opened_at < until + window)
    )
    outages = [
        Outage(tuple(i.services or ([i.service] if i.service else [])), i.opened_at, i.resolved_at)
        for i in incidents
    ]
    return report(changes, outages, since, until, window)


def rate(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f} %"


def frequency(row: Dora) -> str:
    """'2.3 a day', '4 a week', '1 in 30 days'."""
    if row.per_day >= 1:
        return f"{row.per_day:.1f} a day"
    if row.per_day * 7 >= 1:
        return f"{row.per_day * 7:.1f} a week"
    return f"{row.deployments} in {row.days:.0f} days"
