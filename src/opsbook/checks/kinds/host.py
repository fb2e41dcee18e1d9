"""The `host` check kind: CPU, memory, swap, load and disk use of the machine opsbook runs on (psutil).

Values recorded (percentages are 0-100):

- `cpu_pct`: CPU busy since the previous host check ran (on the first run, over a 0.1 s sample).
- `memory_pct`, `swap_pct` (0 without swap), `load1`, `load5`, `load15`, `cpu_count`.
- `disk_pct:<mount>` for every configured mount (e.g. `disk_pct:/`, `disk_pct:/var/lib/postgresql`),
  and `disk_pct`: the fullest of them, so a rule can simply say `disk_pct > 85`.

Optional built-in limits (`max_disk_pct: 85`, `max_memory_pct`, `max_cpu_pct`, `max_swap_pct`,
`max_load1`) turn the result DOWN with a message such as "disk / is 91% full (limit 85%)"; without
limits the check is UP whenever it can measure, and rules judge the values. All psutil calls run in a
worker thread so the event loop never blocks.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, Literal

import psutil
from pydantic import Field, field_validator

from opsbook.checks.result import CheckResult
from opsbook.checks.spec import CheckSpec, RunContext
from opsbook.config.types import format_duration

FIRST_SAMPLE_S = 0.1
Percent = float


class _CpuSampler:
    """CPU busy % between calls, shared by all host checks.

    psutil.cpu_percent(interval=None) keeps its last sample per *thread*, and asyncio.to_thread runs each
    call on whichever pool thread is free, so its "since the last call" would be meaningless here.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: Any = None

    def percent(self) -> float:
        with self._lock:
            previous = self._last
            if previous is None:
                previous = psutil.cpu_times()
                time.sleep(FIRST_SAMPLE_S)  # first call only, in a worker thread: a short real sample
            current = psutil.cpu_times()
            self._last = current
        return _busy_pct(previous, current)


def _busy_pct(before: Any, after: Any) -> float:
    def split(times: Any) -> tuple[float, float]:
        total = sum(times)
        # On Linux guest time is already counted in user/nice time.
        total -= getattr(times, "guest", 0.0) + getattr(times, "guest_nice", 0.0)
        idle = times.idle + getattr(times, "iowait", 0.0)
        return total, idle

    total0, idle0 = split(before)
    total1, idle1 = split(after)
    total = total1 - total0
    if total <= 0:
        return 0.0
    busy = total - (idle1 - idle0)
    return round(min(100.0, max(0.0, busy / total * 100)), 2)


_cpu = _CpuSampler()


class HostCheck(CheckSpec):
    """Measures the local machine; DOWN only when a configured limit is exceeded or a mount is missing."""

    kind: Literal["host"]
    mounts: list[str] = Field(
        default_factory=lambda: ["/"],
        description="Mount points whose disk use is measured, as `disk_pct:<mount>`; `disk_pct` is the "
        "fullest of them.",
    )
    max_disk_pct: Percent | None = Field(
        default=None, ge=0, le=100, description="DOWN if any mount is fuller than this (percent)."
    )
    max_memory_pct: Percent | None = Field(
        default=None, ge=0, le=100, description="DOWN if memory use is above this (percent)."
    )
    max_swap_pct: Percent | None = Field(
        default=None, ge=0, le=100, description="DOWN if swap use is above this (percent)."
    )
    max_cpu_pct: Percent | None = Field(
        default=None, ge=0, le=100, description="DOWN if CPU use since the last run is above this (percent)."
    )
    max_load1: float | None = Field(
        default=None, ge=0, description="DOWN if the 1-minute load average is above this."
    )

    @field_validator("mounts")
    @classmethod
    def _absolute(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("give at least one mount point, e.g. ['/']")
        for mount in value:
            if not mount.startswith("/"):
                raise ValueError(f"{mount!r} is not an absolute path")
        return value

    def target(self) -> str:
        return "localhost: cpu, memory, load, disk " + ", ".join(self.mounts)

    async def run(self, ctx: RunContext) -> CheckResult:
        timeout = self.timeout.total_seconds()
        started = time.perf_counter()
        try:
            values, missing = await ctx.clock.wait_for(asyncio.to_thread(self._measure), timeout)
        except TimeoutError:
            return CheckResult.down(f"timed out after {format_duration(self.timeout)} measuring the host")
        latency_ms = (time.perf_counter() - started) * 1000
        problems = [*missing, *self._over_limits(values)]
        if problems:
            return CheckResult.down("; ".join(problems), latency_ms, **values)
        return CheckResult.up(latency_ms, _summary(values, self.mounts), **values)

    def _measure(self) -> tuple[dict[str, float], list[str]]:
        """Every value, in a worker thread; mounts that cannot be measured are reported, not raised."""
        values: dict[str, float] = {"cpu_pct": _cpu.percent()}
        values["cpu_count"] = float(psutil.cpu_count() or 1)
        values["memory_pct"] = float(psutil.virtual_memory().percent)
        values["swap_pct"] = float(psutil.swap_memory().percent)
        values["load1"], values["load5"], values["load15"] = (round(x, 2) for x in psutil.getloadavg())
        missing: list[str] = []
        fullest: float | None = None
        for mount in self.mounts:
            try:
                pct = float(psutil.disk_usage(mount).percent)
            except OSError as exc:
                missing.append(f"disk {mount}: {exc.strerror or exc}")
                continue
            values[f"disk_pct:{mount}"] = pct
            fullest = pct if fullest is None else max(fullest, pct)
        if fullest is not None:
            values["disk_pct"] = fullest
        return values, missing

    def _over_limits(self, values: dict[str, float]) -> list[str]:
        problems: list[str] = []
        if self.max_disk_pct is not None:
            for mount in self.mounts:
                pct = values.get(f"disk_pct:{mount}")
                if pct is not None and pct > self.max_disk_pct:
                    problems.append(f"disk {mount} is {_pct(pct)} full (limit {_pct(self.max_disk_pct)})")
        for key, limit, what in (
            ("memory_pct", self.max_memory_pct, "memory"),
            ("swap_pct", self.max_swap_pct, "swap"),
            ("cpu_pct", self.max_cpu_pct, "CPU"),
        ):
            if limit is not None and values[key] > limit:
                problems.append(f"{what} is {_pct(values[key])} used (limit {_pct(limit)})")
        if self.max_load1 is not None and values["load1"] > self.max_load1:
            problems.append(f"load average is {values['load1']:g} (limit {self.max_load1:g})")
        return problems


def _pct(value: float) -> str:
    return f"{value:.0f}%" if value >= 1 or value == 0 else f"{value:.2g}%"


def _summary(values: dict[str, float], mounts: list[str]) -> str:
    disks = ", ".join(f"{m} {_pct(values[f'disk_pct:{m}'])}" for m in mounts if f"disk_pct:{m}" in values)
    return (
        f"cpu {_pct(values['cpu_pct'])}, memory {_pct(values['memory_pct'])}, "
        f"load {values['load1']:g}/{values['load5']:g}/{values['load15']:g}, disk {disks}"
    )
