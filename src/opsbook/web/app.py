"""Builds the FastAPI application: every domain's router, /health, /metrics, and the pipeline's lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from opsbook import __version__
from opsbook.checks.api import pings
from opsbook.checks.api import router as checks_router
from opsbook.cluster.identity import ProcessIdentity
from opsbook.errors import OpsbookError, http_status
from opsbook.pipeline import Pipeline
from opsbook.runtime import Runtime
from opsbook.web.health import health_router
from opsbook.web.limits import ApiConcurrency, BodyLimit


def create_app(
    runtime: Runtime, pipeline: Pipeline | None = None, run_pipeline: bool = True,
    identity: ProcessIdentity | None = None,
) -> FastAPI:
    """The whole HTTP side of opsbook; with `run_pipeline`, the pipeline runs for as long as the app serves
    (as `identity` says: by default the checks too; `serve --no-workers` only what the API receives)."""
    own = pipeline is None
    pipeline = pipeline or Pipeline(runtime.with_own_pool(), identity=identity)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if run_pipeline:
            await pipeline.start()
        try:
            yield
        finally:
            if run_pipeline:
                await pipeline.stop()
            if own:
                pipeline.runtime.close()

    app = FastAPI(
        title="opsbook",
        version=__version__,
        description="Checks, alerts, incidents, on-call and runbooks from one opsbook.yaml.",
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.state.pipeline = pipeline
    app.state.alert_hooks = pipeline.alert_hooks  # ingested events notify like rule alerts
    app.state.notify_worker = pipeline.notifier
    app.state.escalation_engine = pipeline.escalation

    app.include_router(health_router(runtime, pipeline, run_pipeline))

    @app.exception_handler(OpsbookError)
    async def use_case_error(_request: Request, exc: OpsbookError) -> JSONResponse:
        return JSONResponse({"detail": runtime.redact(str(exc))}, http_status(exc))

    @app.exception_handler(ValueError)
    async def value_error(_request: Request, exc: ValueError) -> JSONResponse:
        return JSONResponse({"detail": runtime.redact(str(exc))}, 400)

    for router in _routers():
        app.include_router(router)
    from opsbook.web.ui import mount_ui

    mount_ui(app, runtime)
    from opsbook.alerts.ingest import IngestFastPath

    app.add_middleware(
        ApiConcurrency, limit=runtime.config.server.api_concurrency, queue=runtime.config.server.api_queue
    )
    app.add_middleware(IngestFastPath, runtime=runtime, state=app.state)  # before sessions and limits
    app.add_middleware(BodyLimit)  # outermost: nothing reads a body larger than its path allows
    return app


def _routers() -> list[Any]:
    """Every domain's router, in one list (each domain's api.py exposes `router`)."""
    from opsbook.alerts.api import router as alerts_router
    from opsbook.alerts.ingest import router as ingest_router
    from opsbook.backups.api import router as backups_router
    from opsbook.capacity.api import router as capacity_router
    from opsbook.chores.api import router as chores_router
    from opsbook.cluster.api import router as cluster_router
    from opsbook.deploys.api import router as deploys_router
    from opsbook.incidents.api import ack_router
    from opsbook.incidents.api import router as incidents_router
    from opsbook.notify.api import router as notify_router
    from opsbook.oncall.api import router as oncall_router
    from opsbook.oplog.api import router as oplog_router
    from opsbook.postgres.api import router as postgres_router
    from opsbook.runbooks.api import router as runbooks_router
    from opsbook.secrets.api import router as secrets_router
    from opsbook.silences.api import router as silences_router
    from opsbook.slo.api import router as slo_router
    from opsbook.subscribers.api import router as subscribers_router

    return [
        checks_router,
        pings,
        alerts_router,
        ingest_router,
        incidents_router,
        ack_router,
        silences_router,
        notify_router,
        oncall_router,
        postgres_router,
        capacity_router,
        runbooks_router,
        oplog_router,
        backups_router,
        secrets_router,
        chores_router,
        cluster_router,
        deploys_router,
        slo_router,
        subscribers_router,
    ]
