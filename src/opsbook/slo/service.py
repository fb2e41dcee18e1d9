"""SLOs as use cases: what each service's objectives stand at (the views the CLI, API and pages show),
and the burn-alert round the SLO watch runs.

`sync` is the watch's round, as opsbook itself: for every availability objective and each of its burn
alerts, whether it burns now (`burn.BurnRule`) raises or resolves an external alert of source `slo` on
the service (dedup key `SERVICE:ALERT`), through the pipeline's hooks (mute, route, notify, incidents),
as the chores' overdue alert and the secrets' failures do. It returns the next instant any alert's
condition changes if the service's state stays as it is, so the watch wakes exactly then (or when a
check changes state, or maintenance is added).

Maintenance (`maintenance: exclude`, the default) counts for nothing: neither the time nor the
downtime in it, in the SLI, the budget, the burn rates and the reports alike.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction

from sqlalchemy.orm import Session

from opsbook.alerts.external import ExternalEvent, apply_external
from opsbook.alerts.state import ExternalAction
from opsbook.alerts.types import AlertTransition
from opsbook.auth.roles import SYSTEM
from opsbook.checks.uptime import state_histories
from opsbook.config.schema import OpsbookConfig
from opsbook.config.types import format_duration
from opsbook.errors import NotFound
from opsbook.events import DomainEvent, Topic
from opsbook.runtime import Runtime
from opsbook.slo import history
from opsbook.slo.budget import Availability, Counted, counted, measure
from opsbook.slo.burn import BurnRule
from opsbook.slo.config import BurnAlertConfig, SloConfig, ratio
from opsbook.slo.latency import LatencyShare, latency_share
from opsbook.slo.timeline import Spans, instant, length, micros, service_time
from opsbook.usecase import transaction

SOURCE = "slo"
LOOKAHEAD = timedelta(hours=1)
"""How far ahead the next change of a burn alert is looked for (the watch wakes at least this often)."""
CHART_POINTS = 60
Hooks = Callable[[Session, Sequence[AlertTransition], datetime], None]
"""What every alert change goes through (mute, notify, incidents): the pipeline's `run_hooks`."""


def counts(
    session: Session, config: OpsbookConfig, slo: SloConfig, start: datetime, end: datetime
) -> Counted:
    """Eligible and bad time of the service over [start, end), maintenance cut out unless counted. Beyond
    the last change every check is taken to stay as it is (so `end` may lie ahead, to look for changes)."""
    checks = state_histories(session, history.slo_checks(config, slo), start, end)
    time = service_time(list(checks.values()), micros(start), micros(end))
    excluded: Spans = ()
    if slo.maintenance == "exclude":
        excluded = history.maintenance(session, config, slo.service, start, end)
    return counted(time, excluded)


def find(config: OpsbookConfig, service: str) -> SloConfig:
    for slo in config.slos:
        if slo.service == service:
            return slo
    raise NotFound(f"service {service!r} has no SLO (see `slos:` in opsbook.yaml, `opsbook slo`)")


def rule_of(alert: BurnAlertConfig, target: Fraction) -> BurnRule:
    return BurnRule.of(alert.factor, length(alert.long), length(alert.short), target)


# --- what the surfaces show -----------------------------------------------------------------------


@dataclass(frozen=True)
class BurnView:
    """One burn alert of an objective: its burn rates over its two windows now, and whether it fires."""

    config: BurnAlertConfig
    long_rate: Fraction | None
    short_rate: Fraction | None
    firing: bool

    @property
    def label(self) -> str:
        c = self.config
        return f"{c.name}: {c.factor:g}× over {format_duration(c.long)} and {format_duration(c.short)}"


@dataclass(frozen=True)
class SloView:
    """A service's objectives as they stand at `at`."""

    config: SloConfig
    at: datetime
    checks: list[str]
    availability: Availability | None
    burns: list[BurnView]
    latency: LatencyShare | None
    latency_hour: LatencyShare | None
    chart: list[tuple[datetime, float | None]]

    @property
    def burn_rate(self) -> Fraction | None:
        """The burn rate over the first burn alert's long window (the fastest that matters now)."""
        return self.burns[0].long_rate if self.burns else None

    @property
    def burn_window(self) -> timedelta | None:
        return self.burns[0].config.long if self.burns else None


def _view(session: Session, config: OpsbookConfig, slo: SloConfig, now: datetime, chart: bool) -> SloView:
    availability, burns, points = None, [], []
    if slo.availability is not None:
        target = ratio(slo.availability)
        longest = max([slo.window, *(a.long for a in slo.burn_alerts)])
        start = now - (longest + slo.window if chart else longest)
        found = counts(session, config, slo, start, now)
        t = micros(now)
        availability = measure(found, t - length(slo.window), t, target)
        for alert in slo.burn_alerts:
            rule = rule_of(alert, target)
            burns.append(
                BurnView(
                    alert,
                    measure(found, t - length(alert.long), t, target).burn_rate,
                    measure(found, t - length(alert.short), t, target).burn_rate,
                    rule.firing(found, t),
                )
            )
        if chart:
            points = budget_chart(found, slo.window, now, target)
    latency = hour = None
    if slo.latency is not None:
        ids = history.slo_checks(config, slo)
        target = ratio(slo.latency.target)
        latency = latency_share(session, ids, now - slo.window, now, slo.latency.below, target)
        hour = latency_share(session, ids, now - timedelta(hours=1), now, slo.latency.below, target)
    return SloView(slo, now, history.slo_checks(config, slo), availability, burns, latency, hour, points)


def budget_chart(
    found: Counted, window: timedelta, now: datetime, target: Fraction, points: int = CHART_POINTS
) -> list[tuple[datetime, float | None]]:
    """The budget left (percent, rolling `window`) at `points` instants over the last window."""
    end, span = micros(now), length(window)
    out: list[tuple[datetime, float | None]] = []
    for n in range(points + 1):
        t = end - span + span * n // points
        left = measure(found, t - span, t, target).budget_left
        out.append((instant(t), None if left is None else float(left * 100)))
    return out


def views(runtime: Runtime) -> list[SloView]:
    """Every service's objectives now (no chart)."""
    now = runtime.clock.now()
    with runtime.sessions() as session:
        return [_view(session, runtime.config, slo, now, chart=False) for slo in runtime.config.slos]


def view(runtime: Runtime, service: str) -> SloView:
    """One service's objectives now, with the budget chart; NotFound if it has none."""
    slo = find(runtime.config, service)
    with runtime.sessions() as session:
        return _view(session, runtime.config, slo, runtime.clock.now(), chart=True)


def public_uptime(
    session: Session, config: OpsbookConfig, now: datetime
) -> dict[str, tuple[SloConfig, Availability]]:
    """Each public service with an availability objective: its availability over the objective's window."""
    public = {s.name for s in config.services if s.public}
    out = {}
    for slo in config.slos:
        if slo.service in public and slo.availability is not None:
            found = counts(session, config, slo, now - slo.window, now)
            out[slo.service] = (
                slo,
                measure(found, micros(now - slo.window), micros(now), ratio(slo.availability)),
            )
    return out


# --- the watch's round ----------------------------------------------------------------------------


def _event(slo: SloConfig, alert: BurnAlertConfig, action: ExternalAction, summary: str) -> ExternalEvent:
    return ExternalEvent(
        SOURCE,
        f"{slo.service}:{alert.name}",
        action,
        slo.service,
        alert.severity,
        summary,
        labels={"slo": slo.service, "burn_alert": alert.name, "objective": f"{slo.availability}%"},
        check_id=f"{slo.service}/slo:{alert.name}",
    )


def _rate(value: Fraction | None) -> str:
    return "—" if value is None else f"{float(value):.1f}×"


def _summary(slo: SloConfig, alert: BurnAlertConfig, found: Counted, t: int, target: Fraction) -> str:
    long = measure(found, t - length(alert.long), t, target)
    short = measure(found, t - length(alert.short), t, target)
    left = measure(found, t - length(slo.window), t, target).budget_left
    budget = (
        "" if left is None else f"; {float(left * 100):.1f}% of its {format_duration(slo.window)} budget left"
    )
    return (
        f"{slo.service} burns its error budget too fast ({alert.name}: {_rate(long.burn_rate)} over "
        f"{format_duration(alert.long)}, {_rate(short.burn_rate)} over {format_duration(alert.short)}, "
        f"alerting at {alert.factor:g}×; objective {slo.availability}% over "
        f"{format_duration(slo.window)}){budget}"
    )


def sync(runtime: Runtime, hooks: Hooks) -> datetime | None:
    """Raise or resolve every burn alert as it stands now; the next instant one may change."""
    wakes: list[datetime] = []
    with transaction(runtime, SYSTEM) as tx:
        now = tx.now
        t = micros(now)
        for slo in runtime.config.slos:
            if slo.availability is None or not slo.burn_alerts:
                continue
            target = ratio(slo.availability)
            longest = max([slo.window, *(a.long for a in slo.burn_alerts)])
            found = counts(tx.session, runtime.config, slo, now - longest, now + LOOKAHEAD)
            for alert in slo.burn_alerts:
                rule = rule_of(alert, target)
                firing = rule.firing(found, t)
                if firing:
                    event = _event(slo, alert, ExternalAction.TRIGGER, _summary(slo, alert, found, t, target))
                else:
                    event = _event(
                        slo, alert, ExternalAction.RESOLVE, f"{slo.service}: the {alert.name} burn stopped"
                    )
                transitions = apply_external(tx.session, event, now)
                if transitions:
                    hooks(tx.session, transitions, now)
                    word = "burning" if firing else "stopped"
                    tx.emit(DomainEvent(Topic.ALERTS, f"slo-{word}", f"slo:{slo.service}:{alert.name}"))
                change = rule.next_change(found, t, micros(now + LOOKAHEAD))
                if change is not None:
                    wakes.append(instant(change))
    return min(wakes) if wakes else None
