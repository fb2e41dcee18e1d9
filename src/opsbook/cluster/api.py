"""HTTP API of the cluster (`/api/v1/cluster`, viewer role): every process sharing this database with its
roles, check leases, singleton duties, last heartbeat (on the database's clock) and scheduler lag."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from opsbook.auth.roles import Principal, Role
from opsbook.cluster.status import MemberStatus, cluster_status
from opsbook.runtime import Runtime
from opsbook.web.deps import get_runtime, require_role


class ClusterOut(BaseModel):
    shared: bool = Field(description="false on SQLite: one process runs everything, there is no cluster")
    partitions: int
    unheld: int = Field(description="Partitions no worker holds a valid lease on now.")
    members: list[MemberStatus] = Field(description="Each process, as `opsbook cluster status` shows it.")


router = APIRouter(prefix="/api/v1/cluster", tags=["cluster"])


@router.get("", response_model=ClusterOut)
def get_cluster(
    runtime: Runtime = Depends(get_runtime), _who: Principal = Depends(require_role(Role.VIEWER))
) -> ClusterOut:
    """The processes of the cluster, alive and gone (the last day), and the leases nobody holds."""
    found = cluster_status(runtime)
    return ClusterOut(
        shared=found.shared, partitions=found.partitions, unheld=found.unheld,
        members=list(found.members),
    )
