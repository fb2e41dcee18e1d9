"""Helpers for tests that need a runtime or a real HTTP server of opsbook on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine, event

from opsbook.clock import Clock
from opsbook.config.loader import parse_config
from opsbook.db.engine import make_sessionmaker
from opsbook.runtime import Runtime


def make_runtime(
    engine: Engine, clock: Clock, config_text: str, env: dict[str, str] | None = None
) -> Runtime:
    loaded = parse_config(config_text, "opsbook.yaml", env or {})
    return Runtime(loaded=loaded, engine=engine, sessions=make_sessionmaker(engine), clock=clock)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def serving(app: FastAPI, port: int | None = None) -> AsyncIterator[str]:
    """Serve `app` with uvicorn in this event loop (so a FakeClock drives it), on `port` or a free one;
    yields its base URL."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, lifespan="on",
        timeout_keep_alive=300,  # a test may think for longer than uvicorn's 5 s between two requests
    ))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def wait_until(predicate: Callable[[], object], what: str, limit: float = 60.0) -> None:
    """Poll a real process until `predicate()` holds (real time: no fake clock can drive another process)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@contextlib.contextmanager
def writes_to(engine: Engine) -> Iterator[list[str]]:
    """The statements that change something (INSERT, UPDATE, DELETE) sent to `engine` while the block runs."""
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().split(None, 1)[0].upper() in {"INSERT", "UPDATE", "DELETE"}:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)
