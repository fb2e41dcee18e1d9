"""The `slos:` section of opsbook.yaml: per service, what it promises and how burning its budget alerts.

```yaml
slos:
  - service: api
    availability: 99.9%        # of the time up, over `window` (from the state-change log, exactly)
    latency: {below: 500ms, target: 99%}   # optional: 99 % of checks answer under 500 ms (rollups)
    window: 30d                # rolling window of the objective and its error budget
    checks: [https]            # the checks that say whether it is up (default: all its enabled checks)
    maintenance: exclude       # time in its maintenance windows counts for nothing (or: count)
    burn_alerts:               # on each objective; default: the three of the Google SRE workbook, below
      - {name: fast, factor: 14.4, long: 1h, short: 5m, severity: P1}   # pages
      - {name: slow, factor: 6, long: 6h, short: 30m, severity: P2}     # notifies
      - {name: steady, factor: 1, long: 3d, short: 6h, severity: P2}
```

A service is down while any of its SLO checks is down (degraded counts as up), unknown while none of
them has a state yet (unknown time counts for nothing). A burn alert fires while the budget burns at
least `factor` times as fast as the window allows over both its `long` and its `short` window, and
resolves when either drops below: `factor` × (1 − target) must stay under 1, or it could never fire.
The same alerts watch the latency objective (unless it has its own `burn_alerts`, e.g. for a 90 % target
the default 14.4× could never reach), over the share of slow results in each window (whole minutes: see
`slo.latency`); they are told apart as `fast` and `latency:fast`.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, BeforeValidator, Field, ValidationError, WithJsonSchema, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from opsbook.config.types import Model, Name, PositiveDuration
from opsbook.rules.config import SeverityLevel
from opsbook.rules.severity import Severity


def _percent(value: Any) -> Decimal:
    """99.9, "99.9" or "99.9%": a percentage strictly between 0 and 100, kept exact."""
    if isinstance(value, bool):
        raise ValueError("a target is a percentage like 99.9 or '99.9%'")
    text = str(value).strip().removesuffix("%").strip()
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a percentage: write it like 99.9 or '99.9%'") from None
    if not number.is_finite() or not 0 < number < 100:
        raise ValueError(f"{value!r}: a target is more than 0% and less than 100%")
    return number


Percent = Annotated[
    Decimal,
    BeforeValidator(_percent),
    WithJsonSchema({"type": ["string", "number"], "examples": [99.9, "99.95%"]}),
]
"""A target in percent, exact (99.9 is 999/1000, not a float near it)."""


def ratio(percent: Decimal) -> Fraction:
    """The target as an exact fraction of 1: 99.9 → 999/1000."""
    return Fraction(percent) / 100


class BurnAlertConfig(Model):
    """One multi-window burn-rate alert: fires while both windows burn at least `factor` times too fast."""

    name: Name
    factor: float = Field(
        gt=0, le=10_000, description="Burn rate that fires it (1: the budget lasts the window)."
    )
    long: PositiveDuration = Field(description="The long window: how much budget was burnt.")
    short: PositiveDuration = Field(
        description="The short window: whether it still burns (resolves quickly)."
    )
    severity: SeverityLevel = Field(description="P0/P1 page by default routing, P2 notifies.")

    @model_validator(mode="after")
    def _windows(self) -> Self:
        if self.short >= self.long:
            raise ValueError(f"burn alert {self.name!r}: the short window must be shorter than the long one")
        return self


DEFAULT_BURN_ALERTS: tuple[BurnAlertConfig, ...] = tuple(
    BurnAlertConfig.model_construct(name=n, factor=f, long=lo, short=sh, severity=sev)
    for n, f, lo, sh, sev in (
        ("fast", 14.4, timedelta(hours=1), timedelta(minutes=5), Severity.P1),
        ("slow", 6.0, timedelta(hours=6), timedelta(minutes=30), Severity.P2),
        ("steady", 1.0, timedelta(days=3), timedelta(hours=6), Severity.P2),
    )
)
"""The Google SRE workbook's: 2 % of a 30-day budget in 1 h pages, 5 % in 6 h and 10 % in 3 days notify."""


class LatencyObjective(Model):
    """`target` percent of a service's check results answer in less than `below`."""

    below: PositiveDuration = Field(description="The latency a good result stays under, e.g. 500ms.")
    target: Percent = Field(description="Share of results under it, e.g. 99%.")
    burn_alerts: list[BurnAlertConfig] | None = Field(
        default=None,
        description="Its own burn-rate alerts (default: the SLO's `burn_alerts`); [] for none.",
    )


class SloConfig(Model):
    """What one service promises, over which window, and the burn alerts of its objectives."""

    service: Name
    availability: Percent | None = Field(default=None, description="Target share of time up, e.g. 99.9%.")
    latency: LatencyObjective | None = Field(default=None, description="Optional latency objective.")
    window: PositiveDuration = Field(default=timedelta(days=30), description="Rolling window, e.g. 30d.")
    checks: list[Name] = Field(default_factory=list, description="Checks that decide up/down (default: all).")
    maintenance: Literal["exclude", "count"] = Field(
        default="exclude",
        description="exclude: time in the service's maintenance windows counts for nothing; "
        "count: downtime in them burns budget too.",
    )
    burn_alerts: list[BurnAlertConfig] = Field(
        default_factory=lambda: list(DEFAULT_BURN_ALERTS),
        description="Multi-window burn-rate alerts on each objective, availability and latency "
        "(default: the SRE workbook's three).",
    )

    @model_validator(mode="after")
    def _some_objective(self) -> Self:
        if self.availability is None and self.latency is None:
            raise ValueError(
                f"slo of {self.service!r}: give an `availability` target, a `latency` one, or both"
            )
        for alerts in (self.burn_alerts, self.latency_alerts):
            names = [a.name for a in alerts]
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise ValueError(f"burn alert name {twice[0]!r} is used twice")
        objectives = [(self.availability, self.burn_alerts, "")]
        if self.latency is not None:
            fix = (
                ""
                if self.latency.burn_alerts is not None
                else "; give the latency objective its own burn_alerts"
            )
            objectives.append((self.latency.target, self.latency_alerts, fix))
        for target, alerts, fix in objectives:
            if target is None:
                continue
            allowed = 1 - ratio(target)
            for alert in alerts:
                if Fraction(repr(alert.factor)) * allowed >= 1:
                    raise ValueError(
                        f"burn alert {alert.name!r}: a burn rate of {alert.factor:g} can never be reached "
                        f"with a {target}% objective (factor × (100% − target) must be under 100%){fix}"
                    )
        return self

    @property
    def latency_alerts(self) -> list[BurnAlertConfig]:
        """The burn alerts of the latency objective: its own, else the SLO's."""
        if self.latency is not None and self.latency.burn_alerts is not None:
            return self.latency.burn_alerts
        return self.burn_alerts


def _problem(index: int, field: str, message: str, value: Any) -> InitErrorDetails:
    return InitErrorDetails(type=PydanticCustomError("slo", message), loc=(index, field), input=value)


def check_slos(items: list[SloConfig], services: list[Any] | None) -> list[SloConfig]:
    """Each service once, a configured service, its named checks its own: errors at the entry's line."""
    found: list[InitErrorDetails] = []
    seen: set[str] = set()
    by_name = {s.name: s for s in services} if services is not None else None
    for index, item in enumerate(items):
        if item.service in seen:
            found.append(
                _problem(index, "service", f"service {item.service!r} has a second slo entry", item.service)
            )
        seen.add(item.service)
        if by_name is None:
            continue  # `services:` itself invalid: reported there
        service = by_name.get(item.service)
        if service is None:
            found.append(
                _problem(
                    index, "service", f"unknown service {item.service!r}; add it to `services:`", item.service
                )
            )
            continue
        names = {c.name for c in service.checks}
        for n, check in enumerate(item.checks):
            if check not in names:
                found.append(
                    InitErrorDetails(
                        type=PydanticCustomError("slo", f"service {item.service!r} has no check {check!r}"),
                        loc=(index, "checks", n),
                        input=check,
                    )
                )
        if not item.checks and not service.checks:
            found.append(
                _problem(index, "service", f"service {item.service!r} has no checks to measure", item.service)
            )
    if found:
        raise ValidationError.from_exception_data("opsbook.yaml", found)
    return items


def _check(items: list[SloConfig], info: Any) -> list[SloConfig]:
    return check_slos(items, info.data.get("services"))


Slos = Annotated[list[SloConfig], AfterValidator(_check)]
"""The type of `OpsbookConfig.slos`."""
