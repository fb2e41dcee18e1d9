"""What the backup and secret tests share: waiting for a pipeline's watch rounds (threads) and its writer
to catch up with the fake clock."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from opsbook.pipeline import Pipeline


async def settle(
    pipeline: Pipeline, predicate: Callable[[], bool] | None = None, limit: float = 30.0
) -> None:
    """Flush the writer until `predicate()` holds (real time, at most `limit` s); with no predicate, let
    the rounds started at this instant land."""
    deadline = time.monotonic() + limit
    while True:
        await asyncio.sleep(0.02)
        await pipeline.writer.flush()
        if predicate is None:
            await asyncio.sleep(0.05)
            await pipeline.writer.flush()
            return
        if predicate():
            return
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the pipeline")
