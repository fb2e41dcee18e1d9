"""Who is calling: an API token or a browser session, found with reads only.

A request must not need a write to be answered (a read-only or full database still serves reads). When a
token or a session was last used is recorded at most once a minute each, in a short transaction of its
own after the caller is known; if that write fails, the failure is logged (repeats held back by the log
filter) and the request goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from opsbook.auth import sessions, tokens
from opsbook.auth.roles import Principal
from opsbook.runtime import Runtime

log = logging.getLogger(__name__)


def _record(runtime: Runtime, what: str, write: Callable[[Session], None]) -> None:
    try:
        with runtime.sessions.begin() as session:
            write(session)
    except SQLAlchemyError as exc:
        log.warning("could not record the last use of %s (the request goes on): %s", what,
                    type(exc).__name__)


def token_caller(runtime: Runtime, token: str, source: str = "") -> Principal | None:
    """The caller of an API token, or None when it is unknown or revoked."""
    now = runtime.clock.now()
    with runtime.sessions() as session:
        caller = tokens.identify(session, token, source)
    if caller is None:
        return None
    if caller.use_unrecorded(now):
        _record(runtime, f"API token {caller.token_id}",
                lambda session: tokens.record_use(session, caller.token_id, now))
    return caller.principal


def browser_caller(runtime: Runtime, token: str, source: str = "") -> sessions.BrowserSession | None:
    """The signed-in browser session of a cookie, or None when unknown, expired, idle or revoked."""
    now = runtime.clock.now()
    with runtime.sessions() as session:
        found = sessions.find(session, runtime.config, token, source, now)
    if found is not None and found.seen_unrecorded(now):
        _record(runtime, f"the browser session of {found.principal.name}",
                lambda session: sessions.record_seen(session, found.token_hash, now))
    return found
