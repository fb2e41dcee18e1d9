"""Runs one check once: its kind's probe under its timeout, any exception a DOWN result, messages redacted.

A kind is run by its probe (`kinds/probes/`); a spec of a kind without one there runs its own `run`.
"""

from __future__ import annotations

import logging
import time

from opsbook.checks.kinds.probes import PROBES
from opsbook.checks.result import CheckResult, Status
from opsbook.checks.spec import CheckSpec, RunContext
from opsbook.config.types import format_duration
from opsbook.redact import environment_secrets, redact

log = logging.getLogger(__name__)


GRACE = 1.0
"""Seconds a kind gets beyond its timeout to report its own, more precise, timeout message."""


async def run_check(spec: CheckSpec, ctx: RunContext) -> CheckResult:
    started = time.perf_counter()
    probe = PROBES.get(spec.kind)
    running = probe(spec, ctx) if probe is not None else spec.run(ctx)
    try:
        result = await ctx.clock.wait_for(running, spec.timeout.total_seconds() + GRACE)
    except TimeoutError:
        result = CheckResult.down(f"timed out after {format_duration(spec.timeout)}")
    except Exception as exc:  # a kind's bug or an unexpected library error must not stop the scheduler
        log.debug("check %s raised", spec.name, exc_info=True)
        result = CheckResult.down(f"{type(exc).__name__}: {exc}")
    if result.latency_ms is None and result.status is not Status.DOWN:
        result = CheckResult(
            result.status, (time.perf_counter() - started) * 1000, result.message, result.values
        )
    secrets = [*spec.secrets(), *environment_secrets()]
    if result.message and ("://" in result.message or secrets):
        result = CheckResult(result.status, result.latency_ms, redact(result.message, secrets), result.values)
    return result
