"""The `status_page.subscribers:` section of opsbook.yaml: who may subscribe to the status page, how they
are reached, and the limits that keep the form from being abused.

```yaml
channels:
  - name: status-mail
    url: "mailtos://status:${SMTP_PASSWORD}@smtp.example.com?from=status@example.com"
    rate_limit: 60/1m          # shared by every subscriber's mail
status_page:
  subscribers:
    enabled: true
    mail_channel: status-mail  # a mailto:// or mailtos:// channel; each message goes `to=` one subscriber
    webhooks: true             # visitors may give a webhook URL instead of an address
    maintenance_lead: 24h      # subscribers are told this long before a maintenance starts
    confirm_within: 48h        # the confirmation link works this long
    per_ip: 10/1h              # subscribe requests from one IP address
    per_address: 3/1d          # confirmation messages to one address or webhook
    webhook_rate_limit: 30/1m  # messages to one webhook subscriber
```
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, ValidationInfo
from pydantic_core import InitErrorDetails, PydanticCustomError

from opsbook.config.types import Model, PositiveDuration
from opsbook.notify.config import RateLimit, RateLimitSpec

MAIL_SCHEMES = ("mailto", "mailtos")


class SubscribersSettings(Model):
    """Subscriptions to the status page by e-mail (double opt-in) or webhook."""

    enabled: bool = Field(default=False, description="Offer the subscribe form on /status.")
    mail_channel: str | None = Field(
        default=None,
        description="The mailto:// or mailtos:// channel subscriber mail goes through (its `to=` is replaced "
        "by each subscriber's address); none: no e-mail subscriptions.",
    )
    webhooks: bool = Field(default=True, description="Visitors may subscribe a webhook URL.")
    private_webhooks: bool = Field(
        default=False, description="Accept webhook URLs on loopback or private addresses (a test setup)."
    )
    maintenance_lead: PositiveDuration = Field(
        default=timedelta(hours=24),
        description="Subscribers hear of a maintenance this long before it starts.",
    )
    confirm_within: PositiveDuration = Field(
        default=timedelta(hours=48), description="How long a confirmation link works."
    )
    per_ip: RateLimitSpec = Field(
        default_factory=lambda: RateLimit(count=10, per=timedelta(hours=1)),
        description="Subscribe requests accepted from one IP address (COUNT/DURATION; default 10/1h).",
    )
    per_address: RateLimitSpec = Field(
        default_factory=lambda: RateLimit(count=3, per=timedelta(days=1)),
        description="Confirmation messages sent to one address or webhook (default 3/1d).",
    )
    webhook_rate_limit: RateLimitSpec | None = Field(
        default_factory=lambda: RateLimit(count=30, per=timedelta(minutes=1)),
        description="Messages to one webhook subscriber (default 30/1m; mail uses the mail channel's limit).",
    )


def check_subscribers(settings: Any, info: ValidationInfo) -> Any:
    """The `status_page:` validator: `subscribers.mail_channel` names a mail channel of `channels:`."""
    subscribers: SubscribersSettings = settings.subscribers
    name = subscribers.mail_channel
    channels = info.data.get("channels")
    if name is None or channels is None:  # `channels:` itself invalid: reported there
        return settings
    found = next((c for c in channels if c.name == name), None)
    if found is None:
        problem = f"unknown channel {name!r}; add it to `channels:`"
    elif urlsplit(found.url).scheme.lower() not in MAIL_SCHEMES:
        problem = f"channel {name!r} is not a mailto:// or mailtos:// channel"
    else:
        return settings
    raise ValidationError.from_exception_data("opsbook.yaml", [
        InitErrorDetails(type=PydanticCustomError("mail_channel", problem),
                         loc=("subscribers", "mail_channel"), input=name)
    ])
