"""The `host` check kind on this machine: values present and plausible, limits that trip."""

from __future__ import annotations

from collections import namedtuple
from pathlib import Path
from typing import Any

import psutil
import pytest
from pydantic import ValidationError

from opsbook.checks.kinds.host import HostCheck
from opsbook.checks.kinds.probes.host import _busy_pct, probe
from opsbook.checks.result import Status
from opsbook.checks.spec import RunContext
from opsbook.clock import SystemClock

CTX = RunContext(clock=SystemClock())


def check(**fields: Any) -> HostCheck:
    return HostCheck.model_validate({"kind": "host", "name": "host", **fields})


async def test_values_present_and_in_range() -> None:
    result = await probe(check(), CTX)
    assert result.status is Status.UP, result.message
    values = result.values
    for key in ("cpu_pct", "memory_pct", "swap_pct", "disk_pct", "disk_pct:/"):
        assert 0 <= values[key] <= 100, key
    assert values["disk_pct"] == values["disk_pct:/"]
    assert values["disk_pct:/"] == pytest.approx(psutil.disk_usage("/").percent, abs=1)
    for key in ("load1", "load5", "load15"):
        assert values[key] >= 0, key
    assert values["cpu_count"] >= 1
    assert result.message.startswith("cpu ")
    assert "disk / " in result.message

    again = await probe(check(), CTX)  # the second run measures since the first
    assert 0 <= again.values["cpu_pct"] <= 100


async def test_disk_limit_trips() -> None:
    used = psutil.disk_usage("/").percent
    assert used > 0  # the root file system of any running machine holds something
    result = await probe(check(max_disk_pct=0), CTX)
    assert result.status is Status.DOWN
    assert result.message.startswith("disk / is ")
    assert result.message.endswith("full (limit 0%)")
    assert result.values["disk_pct:/"] > 0  # values are still recorded for rules and graphs

    assert (await probe(check(max_disk_pct=100), CTX)).status is Status.UP


async def test_memory_and_load_limits_trip() -> None:
    result = await probe(check(max_memory_pct=0, max_load1=100000), CTX)
    assert result.status is Status.DOWN
    assert result.message.startswith("memory is ") and result.message.endswith("used (limit 0%)")
    assert "load" not in result.message


async def test_several_mounts_and_the_fullest_one(tmp_path: Path) -> None:
    mounts = ["/", str(tmp_path)]
    result = await probe(check(mounts=mounts), CTX)
    assert result.status is Status.UP
    assert result.values["disk_pct"] == max(result.values[f"disk_pct:{m}"] for m in mounts)


async def test_missing_mount_is_down_but_others_are_measured() -> None:
    result = await probe(check(mounts=["/", "/no/such/mount"]), CTX)
    assert result.status is Status.DOWN
    assert result.message == "disk /no/such/mount: No such file or directory"
    assert "disk_pct:/" in result.values
    assert "disk_pct:/no/such/mount" not in result.values


def test_busy_pct() -> None:
    times = namedtuple("times", "user nice system idle iowait guest guest_nice")
    before = times(10.0, 0.0, 10.0, 70.0, 10.0, 1.0, 0.0)
    after = times(30.0, 0.0, 20.0, 130.0, 20.0, 3.0, 0.0)
    # guest is part of user already: total 100 (102 - 2 guest), idle 60 + 10 iowait
    assert _busy_pct(before, after) == pytest.approx(30.0)
    assert _busy_pct(before, before) == 0.0


def test_config_validation() -> None:
    with pytest.raises(ValidationError, match="not an absolute path"):
        check(mounts=["var"])
    with pytest.raises(ValidationError):
        check(max_disk_pct=101)
    with pytest.raises(ValidationError, match="at least one mount"):
        check(mounts=[])
    assert check().target() == "localhost: cpu, memory, load, disk /"
