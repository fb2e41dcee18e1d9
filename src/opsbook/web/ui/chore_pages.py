"""Recurring chores in the browser (`/ui/chores`): each chore with who has it, its open occurrence and
when it is next due, and the recent occurrences; a responder marks one done or skips it with a reason.
The link in a chore's reminder opens this page."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from opsbook.auth.roles import Principal, Role
from opsbook.chores import service as chores
from opsbook.chores.models import ChoreDueRow
from opsbook.errors import OpsbookError
from opsbook.runtime import Runtime
from opsbook.web.ui.pages import back, needs, render, runtime_of, viewer

router = APIRouter(prefix="/ui", include_in_schema=False)
responder = needs(Role.RESPONDER)  # the use cases check it too; declared for early refusal


@router.get("/chores", response_class=HTMLResponse)
def chores_page(request: Request, principal: Principal = Depends(viewer)) -> HTMLResponse:
    runtime = runtime_of(request)
    return render(request, "ui/chores.html", title="Chores", section="Chores", views=chores.views(runtime),
                  recent=chores.occurrences(runtime, limit=30), assignee=chores.assignee_label)


def _closing(request: Request, close: Callable[[Runtime], ChoreDueRow], said: str) -> Response:
    """Back to the chores page saying how it went: `said` (with the chore's name), or the refusal."""
    try:
        row = close(runtime_of(request))
    except OpsbookError as exc:
        return back("/ui/chores", str(exc), "error")
    return back("/ui/chores", said.format(chore=row.chore, entry=row.oplog_entry))


@router.post("/chores/{due_id}/done")
def done(
    request: Request, due_id: int, note: str = Form(""), who: Principal = Depends(responder)
) -> Response:
    return _closing(request, lambda rt: chores.mark_done(rt, who, due_id, note),
                    "Chore {chore} done: operations log entry #{entry}.")


@router.post("/chores/{due_id}/skip")
def skip(
    request: Request, due_id: int, reason: str = Form(""), who: Principal = Depends(responder)
) -> Response:
    return _closing(request, lambda rt: chores.skip(rt, who, due_id, reason),
                    "Chore {chore} skipped this time.")
