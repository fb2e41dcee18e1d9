"""opsbook's own health, told apart: `/health` (is the process working), `/ready` (can it store what it
observes now), `/metrics` (Prometheus; always answers, the database's state included).

- `/health`: 200 while every supervised loop's rounds succeed; 503 with the failing loops otherwise.
- `/ready`: 200 when a write to the store commits and the result writer is not stalled (its oldest
  unstored result is younger than `STALL_AFTER`); 503 saying which is wrong otherwise. Reads may still
  work while writes fail: a database that answers SELECT but refuses writes is not ready.
- `/metrics`: a viewer token unless `server.public_metrics`; never 500. Collectors that read the
  store report `opsbook_database_up 0` and skip their figures while it is away.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response

from opsbook import __version__
from opsbook.auth.roles import Principal
from opsbook.db.probe import probe_write
from opsbook.web.deps import current_principal

if TYPE_CHECKING:
    from opsbook.pipeline import Pipeline
    from opsbook.runtime import Runtime

STALL_AFTER = timedelta(seconds=30)


def health_router(runtime: Runtime, pipeline: Pipeline, running: bool) -> APIRouter:
    router = APIRouter(tags=["meta"])

    @router.get("/health")
    def health() -> Response:
        """Liveness: the process answers and none of its loops keeps failing."""
        down = pipeline.supervisor.down() if running else []
        body: dict[str, Any] = {"status": "down" if down else "ok", "version": __version__}
        body["loops"] = {
            h.name: {"failing_since": h.down_since.isoformat() if h.down_since else None,
                     "error": runtime.redact(h.last_error)}
            for h in down
        }
        return JSONResponse(body, 503 if down else 200)

    @router.get("/ready")
    def ready() -> Response:
        """Readiness: a write to the store commits now, and results are not piling up unstored."""
        now = runtime.clock.now()
        body: dict[str, Any] = {"status": "ok", "version": __version__, "database": "ok", "writer": "ok"}
        try:
            probe_write(runtime.sessions, now)
        except Exception as exc:
            body.update(status="not ready", database=runtime.redact(f"{type(exc).__name__}: {exc}")[:300])
        oldest = pipeline.writer.oldest_pending() if running else None
        if oldest is not None and now - oldest > STALL_AFTER:
            age = int((now - oldest).total_seconds())
            waiting = f"{pipeline.writer.pending} results waiting, the oldest for {age}s"
            body.update(status="not ready", writer=waiting)
        return JSONResponse(body, 200 if body["status"] == "ok" else 503)

    def render() -> Response:
        return Response(pipeline.metrics.render(), media_type="text/plain; version=0.0.4")

    if runtime.config.server.public_metrics:
        router.add_api_route("/metrics", render, methods=["GET"])
    else:

        @router.get("/metrics")
        def metrics(_who: Principal = Depends(current_principal)) -> Response:
            """Prometheus metrics (a viewer token; `server.public_metrics: true` serves them openly)."""
            return render()

    return router
