"""HTTP API of secrets: the inventory with each secret's age against its policy, and the use cases:
`POST /api/v1/secrets/{name}/rotated`, `/compromised`, and the rotation job's failure hook
`/rotation-failed` (responder token; it alerts at once). No secret value is ever sent or stored.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Path
from pydantic import AwareDatetime, BaseModel, Field

from opsbook.auth.roles import Principal, Role
from opsbook.config.types import format_duration
from opsbook.runtime import Runtime
from opsbook.secrets import service
from opsbook.secrets.service import SecretView
from opsbook.web.deps import get_runtime, require_role

router = APIRouter(prefix="/api/v1/secrets", tags=["secrets"])
SecretName = Path(pattern=r"^[a-z0-9][a-z0-9_\-]*$", max_length=64, description="The secret's name.")


class SecretOut(BaseModel):
    name: str
    owner: str
    protects: str
    every: str
    rotation: str
    state: str
    description: str
    last_rotated: datetime | None
    last_rotation_source: str | None
    age_days: float | None
    due_at: datetime | None
    compromised_at: datetime | None
    emergency_due_at: datetime | None
    incident_id: int | None


class RotatedIn(BaseModel):
    at: AwareDatetime | None = Field(default=None, description="When it was rotated (default: now).")
    note: str = Field(default="", max_length=2000)


class CompromisedIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000, description="Why it is thought compromised.")


class FailureIn(BaseModel):
    message: str = Field(default="", max_length=2000, description="What went wrong (no secret values).")


class FailureOut(BaseModel):
    status: str
    alerted: bool


def secret_out(view: SecretView, zone: str) -> SecretOut:
    state, cfg = view.state, view.config
    age = state.age
    return SecretOut(
        name=cfg.name, owner=cfg.owner, protects=cfg.protects, every=format_duration(cfg.every),
        rotation=cfg.rotation, state=state.status_word, description=state.describe(cfg.every, zone),
        last_rotated=state.last_rotated, last_rotation_source=view.last.source if view.last else None,
        age_days=round(age.total_seconds() / 86400, 3) if age is not None else None, due_at=state.due_at,
        compromised_at=view.compromise.reported_at if view.compromise else None,
        emergency_due_at=state.compromise_due,
        incident_id=view.compromise.incident_id if view.compromise else None,
    )


@router.get("", response_model=list[SecretOut])
def list_secrets(runtime: Runtime = Depends(get_runtime),
                 _: Principal = Depends(require_role(Role.VIEWER))) -> list[SecretOut]:
    """Every secret of the inventory with its age against its rotation policy."""
    return [secret_out(v, runtime.config.timezone) for v in service.secret_views(runtime)]


@router.get("/{name}", response_model=SecretOut)
def show_secret(name: str = SecretName, runtime: Runtime = Depends(get_runtime),
                _: Principal = Depends(require_role(Role.VIEWER))) -> SecretOut:
    return secret_out(service.secret_views(runtime, name)[0], runtime.config.timezone)


@router.post("/{name}/rotated", response_model=SecretOut)
def rotated(body: RotatedIn, name: str = SecretName, runtime: Runtime = Depends(get_runtime),
            actor: Principal = Depends(require_role(Role.RESPONDER))) -> SecretOut:
    """Record a rotation: ends a compromise (its incident resolves) and a rotation-failure alert."""
    service.record_rotation(runtime, actor, name, at=body.at, note=body.note)
    return secret_out(service.secret_views(runtime, name)[0], runtime.config.timezone)


@router.post("/{name}/compromised", response_model=SecretOut, status_code=201)
def compromised(body: CompromisedIn, name: str = SecretName, runtime: Runtime = Depends(get_runtime),
                actor: Principal = Depends(require_role(Role.RESPONDER))) -> SecretOut:
    """Report a suspected compromise: an incident whose SLA is the emergency rotation deadline."""
    service.report_compromise(runtime, actor, name, body.reason)
    return secret_out(service.secret_views(runtime, name)[0], runtime.config.timezone)


@router.post("/{name}/rotation-failed", response_model=FailureOut, status_code=202)
def rotation_failed(body: FailureIn, name: str = SecretName, runtime: Runtime = Depends(get_runtime),
                    actor: Principal = Depends(require_role(Role.RESPONDER))) -> FailureOut:
    """The rotation job's hook: its rotation failed. Alerts at once (once while it fires)."""
    changed = service.report_rotation_failure(runtime, actor, name, body.message)
    return FailureOut(status="accepted", alerted=changed > 0)
