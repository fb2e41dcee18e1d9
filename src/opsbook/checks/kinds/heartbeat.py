"""The `heartbeat` check kind (push): a job pings a secret URL; a missed ping is a failure.

Like healthchecks.io: `/ping/<token>` says "done", `/ping/<token>/start` "started" (so the run time
is measured), `/ping/<token>/fail` "failed", `/ping/<token>/<exit code>` either, and `/ping/<token>/log`
sends a message that is kept and shown without changing anything. The job is expected every `period`, or
at each time of a `cron` expression in `timezone`; once `grace` has passed after an expected ping without
one, a DOWN result is recorded at exactly that moment.

Like healthchecks.io too, a heartbeat alerts on the first bad signal: a `/fail`, a non-zero exit code or a
missed ping fires its consecutive-failures rule at once (`failures: 1` by default for this kind, whatever
`alerting.default_failures` says; set `failures:` on the check to wait for more).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import ClassVar, Literal, Self
from zoneinfo import ZoneInfo

from pydantic import Field, model_validator

from opsbook.checks.spec import CheckSpec
from opsbook.config.cron import Cron
from opsbook.config.types import Duration, PositiveDuration, TimeZone, format_duration


class HeartbeatCheck(CheckSpec):
    kind: Literal["heartbeat"]
    period: PositiveDuration | None = Field(
        default=None, description="Expected time between pings (or use cron)."
    )
    cron: Cron | None = Field(
        default=None, description="Cron expression of expected ping times (or use period)."
    )
    timezone: TimeZone = Field(default="UTC", description="Time zone the cron expression is read in.")
    grace: Duration = Field(
        default=timedelta(minutes=5), description="How late a ping may be before it counts as missed."
    )
    failures: int | None = Field(
        default=1, ge=0,
        description="Consecutive failures that fire (0: never). A heartbeat alerts on the first /fail, "
        "non-zero exit code or missed ping: 1 by default, not alerting.default_failures.",
    )
    token: str | None = Field(
        default=None,
        min_length=16,
        description="Secret part of the ping URL (use ${ENV}); generated and stored when left out.",
    )

    push: ClassVar[bool] = True

    @model_validator(mode="after")
    def _period_or_cron(self) -> Self:
        if (self.period is None) == (self.cron is None):
            raise ValueError("a heartbeat needs exactly one of 'period' or 'cron'")
        return self

    def next_expected(self, after: datetime) -> datetime:
        """The first time a ping is expected after `after` (a ping, or a previous expected time)."""
        if self.period is not None:
            return after + self.period
        assert self.cron is not None
        local = after.astimezone(ZoneInfo(self.timezone))
        from croniter import croniter  # loaded when used, not with the config's classes (see config/cron.py)

        nxt: datetime = croniter(self.cron, local).get_next(datetime)
        return nxt.astimezone(after.tzinfo)

    def deadline(self, after: datetime) -> datetime:
        return self.next_expected(after) + self.grace

    def expectation(self) -> str:
        when = f"every {format_duration(self.period)}" if self.period else f"at '{self.cron}' {self.timezone}"
        return f"expected {when}, grace {format_duration(self.grace)}"

    def secrets(self) -> list[str]:
        return [self.token] if self.token else []

    def target(self) -> str:
        return "push: /ping/<token>"
