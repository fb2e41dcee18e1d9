"""The real endpoints of the notify tests (an aiosmtpd server, an aiohttp webhook receiver) and the
browser tests' Chromium, for the subscriber tests."""

from tests.notify.conftest import receiver, smtp
from tests.web_ui.conftest import browser

__all__ = ["browser", "receiver", "smtp"]
