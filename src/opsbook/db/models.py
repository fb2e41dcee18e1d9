"""Imports every domain's tables so `Base.metadata` is complete (for Alembic and for tests)."""

from opsbook.alerts import models as alerts_models
from opsbook.auth import models as auth_models
from opsbook.auth import web_models as auth_web_models
from opsbook.backups import models as backups_models
from opsbook.capacity import models as capacity_models
from opsbook.checks import models as checks_models
from opsbook.chores import models as chores_models
from opsbook.cluster import models as cluster_models
from opsbook.db import probe as probe_models
from opsbook.db.base import Base
from opsbook.deploys import models as deploys_models
from opsbook.events import models as events_models
from opsbook.incidents import models as incidents_models
from opsbook.notify import models as notify_models
from opsbook.oncall import models as oncall_models
from opsbook.oplog import models as oplog_models
from opsbook.postgres import models as postgres_models
from opsbook.runbooks import models as runbooks_models
from opsbook.secrets import models as secrets_models
from opsbook.silences import models as silences_models
from opsbook.subscribers import models as subscribers_models

__all__ = [
    "Base", "alerts_models", "auth_models", "auth_web_models", "backups_models", "capacity_models",
    "checks_models", "chores_models", "cluster_models", "deploys_models", "events_models",
    "incidents_models", "notify_models", "oncall_models", "oplog_models", "postgres_models", "probe_models",
    "runbooks_models", "secrets_models", "silences_models",
    "subscribers_models",
]
