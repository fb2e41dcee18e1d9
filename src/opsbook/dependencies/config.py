"""The `dependencies:` section of opsbook.yaml (the graph itself is each service's and check's
`depends_on`).

```yaml
dependencies:
  hold: 1m      # a dependency's firing waits this long for its dependents to fail, so its page counts them
  grace: 5m     # a dependent still down this long after its dependency recovered pages on its own
```
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from opsbook.config.types import Model, PositiveDuration


class DependenciesSettings(Model):
    hold: PositiveDuration = Field(
        default=timedelta(minutes=1),
        description="How long the firing of something others depend on waits before it is announced, so "
        "its page names the services it affects.",
    )
    grace: PositiveDuration = Field(
        default=timedelta(minutes=5),
        description="A dependent still down this long after its dependency recovered pages on its own.",
    )
