"""Deploy gauges for /metrics, computed from the database at each scrape over the last 30 days, per
service's production environment (`service="all"` for every service together): the four DORA figures
`opsbook_deploys{service}`, `opsbook_deploys_per_day{service}`, `opsbook_deploy_lead_time_seconds{service}`,
`opsbook_change_failure_rate{service}`, `opsbook_time_to_restore_seconds{service}`; and
`opsbook_deploys_running` (walks under way)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from opsbook.deploys.models import RUNNING, DeployRow
from opsbook.deploys.report import dora_report
from opsbook.runtime import Runtime

WINDOW = timedelta(days=30)


class DeployCollector(Collector):
    def __init__(self, runtime: Runtime, window: timedelta = WINDOW) -> None:
        self.runtime = runtime
        self.window = window

    def describe(self) -> list[Metric]:
        return []  # built at collect time

    def collect(self) -> Iterator[Metric]:
        now = self.runtime.clock.now()
        families = {
            "count": GaugeMetricFamily(
                "opsbook_deploys", "Deploys to production, last 30 days", labels=["service"]
            ),
            "per_day": GaugeMetricFamily(
                "opsbook_deploys_per_day", "Deployment frequency, last 30 days", labels=["service"]
            ),
            "lead": GaugeMetricFamily(
                "opsbook_deploy_lead_time_seconds", "Median commit-to-deployed time", labels=["service"]
            ),
            "cfr": GaugeMetricFamily(
                "opsbook_change_failure_rate",
                "Deploys followed by a rollback or an incident",
                labels=["service"],
            ),
            "ttr": GaugeMetricFamily(
                "opsbook_time_to_restore_seconds",
                "Median time from a failed deploy to health",
                labels=["service"],
            ),
        }
        with self.runtime.sessions() as session:
            rows = dora_report(session, self.runtime.config, now - self.window, now)
            running = session.scalar(
                select(func.count()).select_from(DeployRow).where(DeployRow.status == RUNNING)
            )
        for r in rows:
            label = [r.service or "all"]
            families["count"].add_metric(label, r.deployments)
            families["per_day"].add_metric(label, r.per_day)
            if r.lead_time is not None:
                families["lead"].add_metric(label, r.lead_time.total_seconds())
            if r.change_failure_rate is not None:
                families["cfr"].add_metric(label, r.change_failure_rate)
            if r.time_to_restore is not None:
                families["ttr"].add_metric(label, r.time_to_restore.total_seconds())
        yield from families.values()
        yield GaugeMetricFamily("opsbook_deploys_running", "Deploy walks under way", value=running or 0)
