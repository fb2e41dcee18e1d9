"""The real endpoints of the notify tests (an aiosmtpd server, an aiohttp webhook receiver), for the
subscriber tests."""

from tests.notify.conftest import receiver, smtp

__all__ = ["receiver", "smtp"]
