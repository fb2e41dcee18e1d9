"""Runs a process's pipeline without the web server until SIGTERM or SIGINT: `opsbook worker`."""

from __future__ import annotations

import asyncio
import logging
import signal

from opsbook.cluster.identity import ProcessIdentity
from opsbook.runtime import Runtime

log = logging.getLogger(__name__)


async def run_worker(runtime: Runtime, identity: ProcessIdentity) -> None:
    """Start the pipeline as `identity`, run until a stop signal, then stop it (leases given back)."""
    from opsbook.pipeline import Pipeline

    pipeline = Pipeline(runtime, identity=identity)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await pipeline.start()
    log.info("worker %s started (%s)", identity.name, identity.member_id)
    try:
        await stopping.wait()
    finally:
        log.info("worker %s stopping", identity.name)
        await pipeline.stop()
