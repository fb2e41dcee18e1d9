"""The `cluster:` section of opsbook.yaml: how long a worker's check leases last, and into how many
partitions the checks are divided. Only used on PostgreSQL, with `opsbook worker` processes.

```yaml
cluster:
  lease: 10s        # a dead worker's checks move to the others within this (plus a renewal round)
  partitions: 64    # checks are leased in this many groups (at most one per check)
```
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, field_validator

from opsbook.config.types import Model, PositiveDuration


class ClusterSettings(Model):
    lease: PositiveDuration = Field(
        default=timedelta(seconds=10),
        description="How long a worker's check leases and heartbeat last without renewal; they are renewed "
        "every third of it, and a dead worker's checks move to the others within about 1⅓ of it.",
    )
    partitions: int = Field(
        default=64, ge=1, le=4096,
        description="Groups of checks leased as one (fewer if there are fewer checks); every process of a "
        "cluster must use the same number (the same opsbook.yaml).",
    )

    @field_validator("lease")
    @classmethod
    def _at_least_a_second(cls, value: timedelta) -> timedelta:
        if value < timedelta(seconds=1):
            raise ValueError("a lease shorter than 1s would be renewed more often than the database can")
        return value
