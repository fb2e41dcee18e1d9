"""The browser side of opsbook: sign-in, the operator pages under /ui/, static assets, the public /status.

`mount_ui(app, runtime)` is all the app needs to call (from create_app, after the API routers).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from opsbook.runtime import Runtime


def mount_ui(app: FastAPI, runtime: Runtime) -> None:
    """Add the session/CSRF middleware, /static, /login, /logout, the /ui pages and the status page."""
    from fastapi.responses import RedirectResponse
    from fastapi.staticfiles import StaticFiles
    from starlette.exceptions import HTTPException as StarletteHTTPException

    from opsbook.statuspage.cache import StatusCache
    from opsbook.statuspage.routes import StatusFastPath
    from opsbook.statuspage.routes import router as status_router
    from opsbook.web.ui import routers
    from opsbook.web.ui.middleware import SessionMiddleware
    from opsbook.web.ui.pages import LoginRequired, error_page, login_redirect
    from opsbook.web.ui.templating import STATIC

    cache = StatusCache(runtime)  # kept fresh by the domain events it subscribes to
    app.state.status_cache = cache

    app.add_middleware(SessionMiddleware, runtime=runtime)
    app.add_middleware(StatusFastPath, cache=cache)  # outermost: readers skip sessions and routing
    app.add_exception_handler(LoginRequired, login_redirect)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, error_page)  # type: ignore[arg-type]
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    app.include_router(status_router)
    from opsbook.subscribers.routes import router as subscribe_router
    from opsbook.web.ui.subscriber_pages import router as subscriber_pages

    app.include_router(subscribe_router)
    app.include_router(subscriber_pages)
    for router in routers.all_routers():
        app.include_router(router)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/ui/", status_code=307)
