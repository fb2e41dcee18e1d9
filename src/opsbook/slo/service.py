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

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Literal
from urllib.parse import quote

from sqlalchemy.orm import Session

from opsbook.alerts.external import ExternalEvent, apply_external
from opsbook.alerts.state import ExternalAction
from opsbook.alerts.types import AlertTransition
from opsbook.auth.roles import SYSTEM
from opsbook.checks.rollup import MINUTE
from opsbook.checks.uptime import StateHistory, state_histories
from opsbook.config.schema import OpsbookConfig
from opsbook.config.types import format_duration
from opsbook.errors import NotFound
from opsbook.events import DomainEvent, Topic
from opsbook.runtime import Runtime
from opsbook.slo import history
from opsbook.slo.budget import Availability, Counted, counted, measure
from opsbook.slo.burn import BurnRule
from opsbook.slo.config import BurnAlertConfig, SloConfig, ratio
from opsbook.slo.latency import LatencyShare, Tallies, tallies
from opsbook.slo.shown import budget_words, rate_text
from opsbook.slo.timeline import SECOND, Spans, instant, length, micros, service_time
from opsbook.timefmt import show_span
from opsbook.usecase import transaction

SOURCE = "slo"
LOOKAHEAD = timedelta(hours=1)
"""How far ahead the next change of a burn alert is looked for (the watch wakes at least this often)."""
CHART_POINTS = 60
Hooks = Callable[[Session, Sequence[AlertTransition], datetime], None]
"""What every alert change goes through (mute, notify, incidents): the pipeline's `run_hooks`."""


def read_log(
    session: Session, config: OpsbookConfig, slos: Iterable[SloConfig], start: datetime, end: datetime
) -> dict[str, StateHistory]:
    """The state-change log of every check of `slos` over [start, end), read once for all of them."""
    ids = [check for slo in slos for check in history.slo_checks(config, slo)]
    return state_histories(session, list(dict.fromkeys(ids)), start, end)


def counts(
    session: Session,
    config: OpsbookConfig,
    slo: SloConfig,
    start: datetime,
    end: datetime,
    log: Mapping[str, StateHistory] | None = None,
) -> Counted:
    """Eligible and bad time of the service over [start, end), maintenance cut out unless counted. Beyond
    the last change every check is taken to stay as it is (so `end` may lie ahead, to look for changes).
    `log` (`read_log`, from `start` or earlier to `end`) saves reading the log again for each service."""
    ids = history.slo_checks(config, slo)
    found = log if log is not None else state_histories(session, ids, start, end)
    time = service_time([found[c] for c in ids], micros(start), micros(end))
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
    """A service's objectives as they stand at `at`, each with its burn alerts."""

    config: SloConfig
    at: datetime
    checks: list[str]
    availability: Availability | None
    burns: list[BurnView]
    latency: LatencyShare | None
    latency_burns: list[BurnView]
    chart: list[tuple[datetime, float | None]]

    @property
    def burn_rate(self) -> Fraction | None:
        """Availability's burn rate over the first burn alert's long window (the fastest that matters)."""
        return self.burns[0].long_rate if self.burns else None

    @property
    def burn_window(self) -> timedelta | None:
        return self.burns[0].config.long if self.burns else None

    @property
    def latency_burn_rate(self) -> Fraction | None:
        """The latency objective's burn rate over the first burn alert's long window."""
        return self.latency_burns[0].long_rate if self.latency_burns else None

    @property
    def firing(self) -> list[str]:
        """The burn alerts firing now, as words: "fast burn", "latency fast burn"."""
        return [f"{b.config.name} burn" for b in self.burns if b.firing] + [
            f"latency {b.config.name} burn" for b in self.latency_burns if b.firing
        ]


def latency_windows(slo: SloConfig) -> list[timedelta]:
    """Every window the latency objective and its burn alerts read."""
    return [slo.window, *(w for a in slo.latency_alerts for w in (a.long, a.short))]


def latency_tallies(session: Session, config: OpsbookConfig, slo: SloConfig, now: datetime) -> Tallies:
    """The latency objective's results over every window it and its burn alerts read, maintenance left
    out unless counted."""
    assert slo.latency is not None
    windows = latency_windows(slo)
    excluded: Spans = ()
    if slo.maintenance == "exclude":
        excluded = history.maintenance(session, config, slo.service, now - max(windows) - LOOKAHEAD, now)
    ids = history.slo_checks(config, slo)
    return tallies(session, ids, now, windows, slo.latency.below, excluded)


def latency_burn(alert: BurnAlertConfig, found: Tallies, target: Fraction) -> BurnView:
    """A burn alert on the latency objective: both windows' burn rates, firing while both burn."""
    share = Fraction(repr(alert.factor)) * (1 - target)
    long, short = found.share(alert.long, target), found.share(alert.short, target)
    return BurnView(alert, long.burn_rate, short.burn_rate, long.burning(share) and short.burning(share))


def _view(
    session: Session,
    config: OpsbookConfig,
    slo: SloConfig,
    now: datetime,
    chart: bool,
    log: Mapping[str, StateHistory] | None = None,
) -> SloView:
    availability, burns, points = None, [], []
    if slo.availability is not None:
        target = ratio(slo.availability)
        longest = _longest(slo)
        start = now - (longest + slo.window if chart else longest)
        found = counts(session, config, slo, start, now, log)
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
    latency, latency_burns = None, []
    if slo.latency is not None:
        target = ratio(slo.latency.target)
        tallied = latency_tallies(session, config, slo, now)
        latency = tallied.share(slo.window, target)
        latency_burns = [latency_burn(alert, tallied, target) for alert in slo.latency_alerts]
    checks = history.slo_checks(config, slo)
    return SloView(slo, now, checks, availability, burns, latency, latency_burns, points)


def _longest(slo: SloConfig) -> timedelta:
    """The longest look back the objective's figures and burn alerts need."""
    return max([slo.window, *(a.long for a in slo.burn_alerts)])


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
    now, config = runtime.clock.now(), runtime.config
    longest = max((_longest(slo) for slo in config.slos), default=timedelta(0))
    with runtime.sessions() as session:
        log = read_log(session, config, config.slos, now - longest, now)
        return [_view(session, config, slo, now, chart=False, log=log) for slo in config.slos]


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
    shown = [slo for slo in config.slos if slo.service in public and slo.availability is not None]
    log = read_log(session, config, shown, now - max((s.window for s in shown), default=timedelta(0)), now)
    out = {}
    for slo in shown:
        if slo.availability is not None:
            found = counts(session, config, slo, now - slo.window, now, log)
            out[slo.service] = (
                slo,
                measure(found, micros(now - slo.window), micros(now), ratio(slo.availability)),
            )
    return out


# --- the watch's round ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Burn:
    """One burn alert of one objective as the watch's round found it."""

    slo: SloConfig
    objective: Literal["availability", "latency"]
    view: BurnView
    budget_left: Fraction | None

    @property
    def name(self) -> str:
        """`fast` (availability: as before latency had alerts) or `latency:fast`."""
        prefix = "" if self.objective == "availability" else "latency:"
        return prefix + self.view.config.name

    @property
    def key(self) -> str:
        """The alert's dedup key, `api:fast` or `api:latency:fast`."""
        return f"{self.slo.service}:{self.name}"

    def target(self) -> str:
        slo = self.slo
        if self.objective == "availability":
            return f"{slo.availability}% up"
        assert slo.latency is not None
        return f"{slo.latency.target}% under {slo.latency.below.total_seconds() * 1000:g} ms"


def slo_link(config: OpsbookConfig, service: str) -> str:
    """The service's SLO page (budget chart, burn alerts)."""
    return f"{config.base_url.rstrip('/')}/ui/slo/{quote(service)}"


def _summary(burn: Burn, link: str) -> str:
    """What the alert, its incident and the page say: which objective of which service, how fast its
    budget burns over the two windows, how much of the budget is left, and the SLO page."""
    c, slo, v = burn.view.config, burn.slo, burn.view
    return (
        f"{slo.service} {burn.objective} ({burn.target()} over {show_span(slo.window)}): {c.name} burn "
        f"{rate_text(v.long_rate)} over {show_span(c.long)} and {rate_text(v.short_rate)} over "
        f"{show_span(c.short)}, alerting at {c.factor:g}×; {budget_words(burn.budget_left)}. SLO: {link}"
    )


def _event(burn: Burn, link: str) -> ExternalEvent:
    c, slo = burn.view.config, burn.slo
    firing = burn.view.firing
    summary = (
        _summary(burn, link)
        if firing
        else f"{slo.service} {burn.objective}: the {c.name} burn stopped. SLO: {link}"
    )
    return ExternalEvent(
        SOURCE,
        burn.key,
        ExternalAction.TRIGGER if firing else ExternalAction.RESOLVE,
        slo.service,
        c.severity,
        summary,
        labels={"slo": slo.service, "burn_alert": c.name, "objective": burn.objective},
        check_id=f"{slo.service}/slo:{burn.name}",
    )


def _availability_burns(
    session: Session, config: OpsbookConfig, slo: SloConfig, now: datetime, log: Mapping[str, StateHistory]
) -> tuple[list[Burn], datetime | None]:
    """The objective's burn alerts now, and the next instant one of them changes if nothing else does."""
    assert slo.availability is not None
    target, t = ratio(slo.availability), micros(now)
    found = counts(session, config, slo, now - _longest(slo), now + LOOKAHEAD, log)
    left = measure(found, t - length(slo.window), t, target).budget_left
    burns, changes = [], []
    for alert in slo.burn_alerts:
        rule = rule_of(alert, target)
        view = BurnView(
            alert,
            measure(found, t - length(alert.long), t, target).burn_rate,
            measure(found, t - length(alert.short), t, target).burn_rate,
            rule.firing(found, t),
        )
        burns.append(Burn(slo, "availability", view, left))
        change = rule.next_change(found, t, micros(now + LOOKAHEAD))
        if change is not None:
            changes.append(instant(change))
    return burns, min(changes, default=None)


def _latency_burns(
    session: Session, config: OpsbookConfig, slo: SloConfig, now: datetime
) -> tuple[list[Burn], datetime]:
    """The latency objective's burn alerts now; they may change when the next minute closes."""
    assert slo.latency is not None
    target = ratio(slo.latency.target)
    found = latency_tallies(session, config, slo, now)
    left = found.share(slo.window, target).budget_left
    burns = [Burn(slo, "latency", latency_burn(alert, found, target), left) for alert in slo.latency_alerts]
    return burns, instant((found.end + MINUTE) * SECOND)


def sync(runtime: Runtime, hooks: Hooks) -> datetime | None:
    """Raise or resolve every burn alert as it stands now; the next instant one may change (availability:
    exactly, if no check changes state first; latency: the next whole minute, its resolution)."""
    wakes: list[datetime] = []
    config = runtime.config
    with transaction(runtime, SYSTEM) as tx:
        now = tx.now
        watched = [slo for slo in config.slos if slo.burn_alerts or slo.latency_alerts]
        longest = max((_longest(slo) for slo in watched if slo.availability is not None), default=None)
        log = {} if longest is None else read_log(tx.session, config, watched, now - longest, now + LOOKAHEAD)
        for slo in watched:
            burns: list[Burn] = []
            if slo.availability is not None:
                found, wake = _availability_burns(tx.session, config, slo, now, log)
                burns += found
                if wake is not None:
                    wakes.append(wake)
            if slo.latency is not None and slo.latency_alerts:
                found, minute = _latency_burns(tx.session, config, slo, now)
                burns += found
                wakes.append(minute)
            link = slo_link(config, slo.service)
            for burn in burns:
                transitions = apply_external(tx.session, _event(burn, link), now)
                if transitions:
                    hooks(tx.session, transitions, now)
                    word = "burning" if burn.view.firing else "stopped"
                    tx.emit(DomainEvent(Topic.ALERTS, f"slo-{word}", f"slo:{burn.key}"))
    return min(wakes) if wakes else None
