"""Status page subscribers in the browser (`/ui/subscribers`): each subscriber with its address masked,
the services chosen, when it confirmed, and how delivery went (sent, given up, failed tries, waiting);
an admin removes one (the use case `subscribers.service.remove`, audit-logged)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from opsbook.auth.roles import Principal, Role
from opsbook.errors import OpsbookError
from opsbook.subscribers import service as subscribers
from opsbook.web.ui.pages import back, needs, render, runtime_of, viewer

router = APIRouter(prefix="/ui", include_in_schema=False)
admin = needs(Role.ADMIN)  # the use case checks it too; declared for early refusal


@router.get("/subscribers", response_class=HTMLResponse)
def subscribers_page(request: Request, principal: Principal = Depends(viewer)) -> HTMLResponse:
    runtime = runtime_of(request)
    settings = runtime.config.status_page.subscribers
    return render(request, "ui/subscribers.html", title="Subscribers", section="Subscribers",
                  views=subscribers.views(runtime), enabled=settings.enabled,
                  kinds=subscribers.kinds_offered(runtime.config))


@router.post("/subscribers/{subscriber_id}/remove")
def remove(request: Request, subscriber_id: int, who: Principal = Depends(admin)) -> Response:
    try:
        subscribers.remove(runtime_of(request), who, subscriber_id)
    except OpsbookError as exc:
        return back("/ui/subscribers", str(exc), "error")
    return back("/ui/subscribers", f"Subscriber #{subscriber_id} removed.")
