"""HTTP API of the cluster (`/api/v1/cluster`, viewer role): every process sharing this database with its
roles, check leases, singleton duties, last heartbeat (on the database's clock) and scheduler lag."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from opsbook.auth.roles import Principal, Role
from opsbook.cluster.status import cluster_status
from opsbook.runtime import Runtime
from opsbook.web.deps import get_runtime, require_role


class MemberOut(BaseModel):
    id: str
    name: str
    host: str
    pid: int
    roles: list[str]
    location: str | None
    version: str
    started_at: datetime
    heartbeat_at: datetime
    heartbeat_age_s: float
    state: str = Field(description="alive; gone (stopped cleanly); lost (stopped beating: died or cut off)")
    leases: int = Field(description="Partitions of the checks it holds with a valid lease.")
    leases_expired: int = Field(description="Partitions it held when it stopped beating, not taken over yet.")
    duties: list[str] = Field(description="Singleton duties it held at its last heartbeat (alive only).")
    lag_s: float | None = Field(description="Its scheduler's worst lag since its previous heartbeat.")


class ClusterOut(BaseModel):
    shared: bool = Field(description="false on SQLite: one process runs everything, there is no cluster")
    partitions: int
    unheld: int = Field(description="Partitions no worker holds a valid lease on now.")
    members: list[MemberOut]


router = APIRouter(prefix="/api/v1/cluster", tags=["cluster"])


@router.get("", response_model=ClusterOut)
def get_cluster(
    runtime: Runtime = Depends(get_runtime), _who: Principal = Depends(require_role(Role.VIEWER))
) -> ClusterOut:
    """The processes of the cluster, alive and gone (the last day), and the leases nobody holds."""
    found = cluster_status(runtime)
    return ClusterOut(
        shared=found.shared, partitions=found.partitions, unheld=found.unheld,
        members=[MemberOut(**vars(m)) for m in found.members],
    )
