"""The `redis` check kind."""

from __future__ import annotations

from typing import Literal

from opsbook.checks.spec import CheckSpec


class RedisCheck(CheckSpec):
    kind: Literal["redis"]
