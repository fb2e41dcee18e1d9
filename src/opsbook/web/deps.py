"""FastAPI dependencies every router uses: the runtime, a database session, who is asking and their role."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from opsbook.auth.roles import Principal, Role
from opsbook.auth.tokens import authenticate
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
    """The caller, from a bearer token (or, later, a login session); 401 if neither."""
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
    with runtime.sessions.begin() as session:
        principal = authenticate(session, credentials.credentials, runtime.clock.now(), source)
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
