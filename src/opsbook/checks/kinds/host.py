"""The `host` check kind: CPU, memory, swap, load and disk use of the machine opsbook runs on (psutil).

Values recorded (percentages are 0-100):

- `cpu_pct`: CPU busy since the previous host check ran (on the first run, over a 0.1 s sample).
- `memory_pct`, `swap_pct` (0 without swap), `load1`, `load5`, `load15`, `cpu_count`.
- `disk_pct:<mount>` for every configured mount (e.g. `disk_pct:/`, `disk_pct:/var/lib/postgresql`),
  and `disk_pct`: the fullest of them, so a rule can simply say `disk_pct > 85`.

Optional built-in limits (`max_disk_pct: 85`, `max_memory_pct`, `max_cpu_pct`, `max_swap_pct`,
`max_load1`) turn the result DOWN with a message such as "disk / is 91% full (limit 85%)"; without
limits the check is UP whenever it can measure, and rules judge the values. The probe that measures is
`probes/host.py`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from opsbook.checks.spec import CheckSpec

Percent = float


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

    def over_limits(self, values: dict[str, float]) -> list[str]:
        """What is above its configured limit in measured `values`, in words ("disk / is 91% full")."""
        problems: list[str] = []
        if self.max_disk_pct is not None:
            most = format_pct(self.max_disk_pct)
            for mount in self.mounts:
                pct = values.get(f"disk_pct:{mount}")
                if pct is not None and pct > self.max_disk_pct:
                    problems.append(f"disk {mount} is {format_pct(pct)} full (limit {most})")
        for key, limit, what in (
            ("memory_pct", self.max_memory_pct, "memory"),
            ("swap_pct", self.max_swap_pct, "swap"),
            ("cpu_pct", self.max_cpu_pct, "CPU"),
        ):
            if limit is not None and values[key] > limit:
                problems.append(f"{what} is {format_pct(values[key])} used (limit {format_pct(limit)})")
        if self.max_load1 is not None and values["load1"] > self.max_load1:
            problems.append(f"load average is {values['load1']:g} (limit {self.max_load1:g})")
        return problems


def format_pct(value: float) -> str:
    """91.4 -> '91%'; below 1 % two significant digits ('0.25%')."""
    return f"{value:.0f}%" if value >= 1 or value == 0 else f"{value:.2g}%"
