"""FastAPI dependencies every router uses: the runtime, a database session, who is asking and their role."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from opsbook.auth.callers import token_caller
from opsbook.auth.roles import Principal, Role
from opsbook.runtime import Runtime

_bearer = HTTPBearer(auto_error=False)


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def get_session(runtime: Runtime = Depends(get_runtime)) -> Iterator[Session]:
    with runtime.sessions() as session:
        yield session


def current_principal(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
    runtime: Runtime = Depends(get_runtime),
) -> Principal:
    """The caller, from a signed-in browser session or a bearer token; 401 if neither. Only reads (when the
    token was last used is recorded at most once a minute, and a failure to record it is no error)."""
    source = request.client.host if request.client else ""
    session_user = getattr(request.state, "principal", None)
    if isinstance(session_user, Principal):
        return session_user
    if credentials is None:
        raise HTTPException(
            401,
            "authentication required: send 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    principal = token_caller(runtime, credentials.credentials, source)
    if principal is None:
        raise HTTPException(401, "invalid or revoked token", headers={"WWW-Authenticate": "Bearer"})
    return principal


def require_role(role: Role) -> Callable[..., Principal]:
    """A dependency that lets the request through only for `role` or higher (403 otherwise)."""

    def dependency(principal: Principal = Depends(current_principal)) -> Principal:
        if not principal.role.allows(role):
            raise HTTPException(
                403, f"this action needs the {role.value} role; you are {principal.role.value}"
            )
        return principal

    return dependency
