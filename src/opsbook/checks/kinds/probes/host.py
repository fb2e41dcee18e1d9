"""Measures the host for a `host` check with psutil; every psutil call runs in a worker thread so the event
loop never blocks."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import psutil

from opsbook.checks.kinds.host import HostCheck, format_pct
from opsbook.checks.result import CheckResult
from opsbook.checks.spec import RunContext
from opsbook.config.types import format_duration

FIRST_SAMPLE_S = 0.1


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


async def probe(check: HostCheck, ctx: RunContext) -> CheckResult:
    timeout = check.timeout.total_seconds()
    started = time.perf_counter()
    try:
        values, missing = await ctx.clock.wait_for(asyncio.to_thread(_measure, check.mounts), timeout)
    except TimeoutError:
        return CheckResult.down(f"timed out after {format_duration(check.timeout)} measuring the host")
    latency_ms = (time.perf_counter() - started) * 1000
    problems = [*missing, *check.over_limits(values)]
    if problems:
        return CheckResult.down("; ".join(problems), latency_ms, **values)
    return CheckResult.up(latency_ms, _summary(values, check.mounts), **values)


def _measure(mounts: list[str]) -> tuple[dict[str, float], list[str]]:
    """Every value, in a worker thread; mounts that cannot be measured are reported, not raised."""
    values: dict[str, float] = {"cpu_pct": _cpu.percent()}
    values["cpu_count"] = float(psutil.cpu_count() or 1)
    values["memory_pct"] = float(psutil.virtual_memory().percent)
    values["swap_pct"] = float(psutil.swap_memory().percent)
    values["load1"], values["load5"], values["load15"] = (round(x, 2) for x in psutil.getloadavg())
    missing: list[str] = []
    fullest: float | None = None
    for mount in mounts:
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


def _summary(values: dict[str, float], mounts: list[str]) -> str:
    disks = ", ".join(
        f"{m} {format_pct(values[f'disk_pct:{m}'])}" for m in mounts if f"disk_pct:{m}" in values
    )
    return (
        f"cpu {format_pct(values['cpu_pct'])}, memory {format_pct(values['memory_pct'])}, "
        f"load {values['load1']:g}/{values['load5']:g}/{values['load15']:g}, disk {disks}"
    )
