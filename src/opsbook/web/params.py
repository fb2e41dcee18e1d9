"""Request parameters every router shares, bounded so no value reaches the store that it cannot hold."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

MAX_ID = 2**63 - 1
"""Row ids are 64-bit on PostgreSQL and SQLite alike: a larger number is no row, and a 422, not a 500."""

Id = Annotated[int, Path(ge=1, le=MAX_ID, description="A row id (1 or more).")]
Limit = Annotated[int, Query(ge=1, le=1000, description="At most this many, newest first.")]
Days = Annotated[int, Query(ge=1, le=3660, description="How many days back (at most ten years).")]
