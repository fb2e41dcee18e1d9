"""The `postgres` check kind."""

from __future__ import annotations

from typing import Literal

from opsbook.checks.spec import CheckSpec


class PostgresCheck(CheckSpec):
    kind: Literal["postgres"]
