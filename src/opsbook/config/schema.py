"""The root of opsbook.yaml: settings, services and their checks (later sections join here)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, Field, PrivateAttr, model_validator

from opsbook.backups.config import Backups
from opsbook.capacity.config import Capacity, CapacitySettings
from opsbook.checks.kinds import CheckConfig
from opsbook.chores.config import Chores
from opsbook.cluster.config import ClusterSettings
from opsbook.config.types import Model, Name, PositiveDuration, TimeZone
from opsbook.dependencies.config import DependenciesSettings
from opsbook.dependencies.validate import check_dependencies
from opsbook.deploys.config import DeploysSettings, ServiceDeploy
from opsbook.incidents.config import Incidents, IncidentsSettings
from opsbook.notify.config import (
    BusinessHours,
    ChannelsSection,
    Grouping,
    NotifySettings,
    Routing,
    RoutingSection,
)
from opsbook.oncall.config import EscalationPolicies, Schedules, Users
from opsbook.postgres.config import Postgres, PostgresSettings
from opsbook.rules.config import Alerting, AlertingSettings, ServiceRules
from opsbook.runbooks.config import RunbooksSettings
from opsbook.secrets.config import Secrets
from opsbook.silences.config import MaintenanceWindows
from opsbook.slo.config import Slos
from opsbook.statuspage.config import StatusPageSettings
from opsbook.subscribers.config import check_subscribers


class Retention(Model):
    raw: PositiveDuration = Field(default=timedelta(hours=48), description="How long raw results are kept.")
    minute_rollups: PositiveDuration = Field(
        default=timedelta(days=14), description="How long per-minute rollups are kept."
    )
    hour_rollups: PositiveDuration = Field(
        default=timedelta(days=400), description="How long per-hour rollups are kept."
    )
    state_changes: PositiveDuration = Field(
        default=timedelta(days=400), description="How long up/down changes are kept."
    )


class SchedulerSettings(Model):
    concurrency: int = Field(default=500, ge=1, description="Checks running at once, at most.")
    batch_size: int = Field(
        default=1000, ge=1, description="Results written per database transaction, at most."
    )
    flush_interval: PositiveDuration = Field(
        default=timedelta(milliseconds=250),
        description="Longest a result waits unwritten (bounds alert latency).",
    )


class Service(Model):
    name: Name
    description: str = ""
    public: bool = Field(default=False, description="Shown on the public status page.")
    labels: dict[str, str] = Field(default_factory=dict)
    checks: list[CheckConfig] = Field(default_factory=list)
    rules: ServiceRules = Field(default_factory=list, description="Alert rules for the service's checks.")
    deploy: ServiceDeploy | None = Field(default=None, description="How it is deployed and rolled back.")
    depends_on: list[str] = Field(
        default_factory=list, description="Services or checks ('service/check') it needs: alerts they cause "
        "are recorded, not announced on their own.",
    )

    @model_validator(mode="after")
    def _deploy_checks(self) -> Service:
        unknown = self.deploy.unknown_checks({c.name for c in self.checks}) if self.deploy else []
        if unknown:
            raise ValueError(f"deploy: verification names checks {self.name} lacks: {', '.join(unknown)}")
        return self


class ServerSettings(Model):
    """How `opsbook serve` faces the network."""

    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses of reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed "
        "(client address in the audit log, login throttling). Empty: no forwarded header is believed.",
    )
    public_metrics: bool = Field(
        default=False, description="Serve /metrics without a token (it names services and people)."
    )
    api_concurrency: int = Field(
        default=4, ge=1, le=1000, description="API requests handled at once; the pipeline has priority."
    )
    api_queue: int = Field(
        default=16, ge=0, le=100_000, description="API requests that may wait; beyond, 503 + Retry-After."
    )
    cli: str | None = Field(
        default=None, min_length=1,
        examples=["opsbook", "OPSBOOK_CONFIG=/etc/opsbook/opsbook.yaml opsbook",
                  "ssh -t ops.example.com opsbook", "kubectl exec -it deploy/opsbook -- opsbook"],
        description="How a responder runs opsbook in a shell: what every command opsbook suggests in "
        "messages and on pages starts with (`opsbook incident ack 12`, `opsbook runbook run \"NAME\" "
        "--incident 12`). Unset: `opsbook`, and when this file is not ./opsbook.yaml of the folder opsbook "
        "was started in, the command ends with `-c <absolute path of this file>`, so it works pasted into a "
        "shell in any folder of that machine. Set, it is used as written and no `-c` is added: `-c` is an "
        "option of each command, so name another file with `OPSBOOK_CONFIG=/path/opsbook.yaml opsbook` here.",
    )
    _config_file: str | None = PrivateAttr(default=None)

    @property
    def config_file(self) -> str | None:
        """The absolute path of the config file for suggested commands to name with `-c` (None: the file a
        command finds by default, or `cli` is set)."""
        return None if self.cli is not None else self._config_file

    def read_from(self, config_file: str | None) -> None:
        """Called by the loader: the file's absolute path, or None when it is where commands look first."""
        self._config_file = config_file


class OpsbookConfig(Model):
    """Everything opsbook.yaml declares."""

    version: int = Field(default=1, description="Schema version of this file.")
    title: str = Field(default="opsbook", description="Shown in the UI and on the status page.")
    timezone: TimeZone = Field(
        default="UTC", description="The team's IANA time zone (business hours, reports)."
    )
    base_url: str = Field(
        default="http://127.0.0.1:8080", description="Where opsbook is reachable, for links."
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; OPSBOOK_DATABASE_URL wins; default sqlite under ./var/."
    )
    retention: Retention = Field(default_factory=Retention)
    server: ServerSettings = Field(
        default_factory=ServerSettings, description="Proxies, /metrics, API load, how responders run opsbook."
    )
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    cluster: ClusterSettings = Field(
        default_factory=ClusterSettings, description="Workers on PostgreSQL: check leases."
    )
    services: Annotated[list[Service], AfterValidator(check_dependencies)] = Field(default_factory=list)
    users: Users = Field(default_factory=list, description="People who can be on call or paged.")
    schedules: Schedules = Field(default_factory=list, description="On-call schedules (rotation layers).")
    escalation_policies: EscalationPolicies = Field(
        default_factory=list, description="Who is paged, in order."
    )
    maintenance_windows: MaintenanceWindows = Field(
        default_factory=list, description="Recurring maintenance windows: cron + duration + time zone."
    )
    channels: ChannelsSection = Field(default_factory=list, description="Where messages go: Apprise URLs.")
    routing: RoutingSection = Field(default_factory=Routing, description="By severity: page, notify or log.")
    business_hours: BusinessHours = Field(default_factory=BusinessHours, description="When P3 may notify.")
    grouping: Grouping = Field(default_factory=Grouping, description="One message per service burst.")
    notifications: NotifySettings = Field(default_factory=NotifySettings, description="Delivery, templates.")
    alerting: Alerting = Field(default_factory=AlertingSettings, description="Rule defaults, event ingest.")
    runbooks: RunbooksSettings = Field(default_factory=RunbooksSettings)
    incidents: Incidents = Field(default_factory=IncidentsSettings, description="SLAs, grouping, escalation.")
    status_page: Annotated[StatusPageSettings, AfterValidator(check_subscribers)] = Field(
        default_factory=StatusPageSettings, description="Public /status."
    )
    postgres: Postgres = Field(
        default_factory=PostgresSettings, description="Database report sampling and maintenance tasks."
    )
    capacity: Capacity = Field(
        default_factory=CapacitySettings, description="The capacity table, scaling plan and forecasts."
    )
    backups: Backups = Field(default_factory=list, description="Backup jobs: RPO, retention, restore drills.")
    secrets: Secrets = Field(default_factory=list, description="Secrets inventory (never values): rotation.")
    chores: Chores = Field(default_factory=list, description="Procedures done on a schedule (cron).")
    deploys: DeploysSettings = Field(default_factory=DeploysSettings, description="Freezes, DORA reports.")
    dependencies: DependenciesSettings = Field(
        default_factory=DependenciesSettings, description="Hold and grace of dependency-aware alerting."
    )
    slos: Slos = Field(
        default_factory=list, description="Service level objectives, error budgets, burn alerts."
    )

    def checks(self) -> dict[str, Any]:
        """Every check by its id `service/check`, those derived from backup jobs and secrets included."""
        return {f"{s.name}/{c.name}": c for s in self.all_services() for c in s.checks}

    def all_services(self) -> list[Service]:
        """The configured services, then `backups` and `secrets`: the checks opsbook derives from the
        backup jobs and the secrets inventory (not public; see backups/checks.py, secrets/checks.py)."""
        return [*self.services, *derived_services(self)]


def derived_services(config: OpsbookConfig) -> list[Service]:
    """The services whose checks come from other sections (built once per loaded config)."""
    found = _DERIVED.get(id(config))
    if found is not None and found[0] is config:
        return found[1]
    from opsbook.backups.checks import SERVICE as BACKUPS
    from opsbook.backups.checks import derived_checks as backup_checks
    from opsbook.secrets.checks import SERVICE as SECRETS
    from opsbook.secrets.checks import derived_checks as secret_checks

    services = []
    if config.backups:
        checks: list[Any] = backup_checks(config.backups)  # kinds of their own, not in CheckConfig
        services.append(Service.model_construct(
            name=BACKUPS, description="Backup jobs and restore drills", public=False, labels={},
            checks=checks, rules=[],
        ))
    if config.secrets:
        inventory: list[Any] = secret_checks(config.secrets)
        services.append(Service.model_construct(
            name=SECRETS, description="Secret rotation", public=False, labels={},
            checks=inventory, rules=[],
        ))
    if len(_DERIVED) > 64:
        _DERIVED.clear()
    _DERIVED[id(config)] = (config, services)
    return services


_DERIVED: dict[int, tuple[OpsbookConfig, list[Service]]] = {}
