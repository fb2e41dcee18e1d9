"""The `status_page:` section of opsbook.yaml: title, logo, colours and how often the snapshot is rebuilt.

```yaml
status_page:
  title: Acme status
  logo_url: https://acme.example/logo.svg
  colors: {operational: "#2e9d5b", major_outage: "#d23c3c"}
  refresh: 30s
  subscribers: {enabled: true, mail_channel: status-mail}   # see opsbook.subscribers.config
```
Only services with `public: true` ever appear on it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import Field, StringConstraints

from opsbook.config.types import Duration, Model, PositiveDuration
from opsbook.subscribers.config import SubscribersSettings

Colour = Annotated[str, StringConstraints(pattern=r"^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")]
"""A CSS hex colour, `#2e9d5b` or `#2e5`: nothing else reaches the page's style sheet."""


class StatusColours(Model):
    operational: Colour = "#2e9d5b"
    degraded: Colour = "#d9a400"
    partial_outage: Colour = "#e8772e"
    major_outage: Colour = "#d23c3c"
    maintenance: Colour = "#3a7bd5"
    no_data: Colour = "#d5d9de"
    header: Colour = Field(default="#1f2933", description="Background of the page header.")
    header_text: Colour = "#ffffff"


class StatusPageSettings(Model):
    """The public status page at /status (also /status.json and /status/feed.atom)."""

    enabled: bool = Field(default=True, description="Serve /status; false answers 404.")
    title: str | None = Field(default=None, description="Page heading; defaults to the top-level title.")
    description: str = Field(default="", description="A line under the title.")
    logo_url: Annotated[str, StringConstraints(pattern=r"^(https?://|/)\S*$")] | None = Field(
        default=None, description="An http(s) URL or a path on this server for the logo."
    )
    colors: StatusColours = Field(default_factory=StatusColours)
    refresh: PositiveDuration = Field(
        default=timedelta(seconds=30),
        description="The snapshot is rebuilt when a public check changes state, and at least this often.",
    )
    history_days: int = Field(default=90, ge=7, le=400, description="Days of uptime bars, history.")
    max_age: Duration = Field(
        default=timedelta(seconds=10), description="Cache-Control max-age sent to readers and proxies."
    )
    subscribers: SubscribersSettings = Field(
        default_factory=SubscribersSettings, description="Visitors subscribe by e-mail or webhook."
    )
