"""What one run of a check yields: a status, a latency, measured values and a human message."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Status(StrEnum):
    UP = "up"
    DEGRADED = "degraded"  # answered correctly, but slower than the check's maximum latency
    DOWN = "down"


@dataclass(frozen=True, slots=True)
class CheckResult:
    status: Status
    latency_ms: float | None = None
    message: str = ""
    values: Mapping[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status is not Status.DOWN

    @classmethod
    def up(cls, latency_ms: float | None = None, message: str = "", **values: float) -> CheckResult:
        return cls(Status.UP, latency_ms, message, values)

    @classmethod
    def down(cls, message: str, latency_ms: float | None = None, **values: float) -> CheckResult:
        return cls(Status.DOWN, latency_ms, message, values)


@dataclass(frozen=True, slots=True)
class StoredResult:
    """A result with the check it belongs to and the instant its run started."""

    check_id: str
    ts: datetime
    result: CheckResult

    @property
    def status(self) -> Status:
        return self.result.status
