"""Every router of the browser side, in one list (mount_ui includes them)."""

from __future__ import annotations

from fastapi import APIRouter


def all_routers() -> list[APIRouter]:
    from opsbook.web.ui import auth_pages, check_page, dashboard, incident_pages

    return [auth_pages.router, dashboard.router, check_page.router, incident_pages.router]
