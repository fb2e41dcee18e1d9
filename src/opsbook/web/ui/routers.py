"""Every router of the browser side, in one list (mount_ui includes them)."""

from __future__ import annotations

from fastapi import APIRouter


def all_routers() -> list[APIRouter]:
    from opsbook.web.ui import (
        alert_pages,
        auth_pages,
        check_page,
        chore_pages,
        cluster_pages,
        dashboard,
        database_pages,
        deploy_pages,
        dr_pages,
        incident_pages,
        ops_pages,
        runbook_pages,
        slo_pages,
    )

    return [
        auth_pages.router,
        dashboard.router,
        check_page.router,
        incident_pages.router,
        alert_pages.router,
        alert_pages.old_links,
        ops_pages.router,
        database_pages.router,
        runbook_pages.router,
        deploy_pages.router,
        dr_pages.router,
        chore_pages.router,
        cluster_pages.router,
        slo_pages.router,
    ]
