"""`status_page.subscribers` in opsbook.yaml: a wrong mail channel or limit is an error at its line."""

from __future__ import annotations

import pytest

from opsbook.config.loader import ConfigError, parse_config

CONFIG = """\
channels:
  - name: ops
    url: json://127.0.0.1:9/hook
  - name: mail
    url: "mailto://127.0.0.1:25?from=status@x.test"
status_page:
  subscribers:
    enabled: true
    mail_channel: {channel}
    per_ip: {per_ip}
"""


@pytest.mark.parametrize(("channel", "per_ip", "said"), [
    ("nope", "10/1h", "opsbook.yaml:9: status_page.subscribers.mail_channel: unknown channel 'nope'"),
    ("ops", "10/1h", "opsbook.yaml:9: status_page.subscribers.mail_channel: channel 'ops' is not a mailto://"),
    ("mail", "lots", "opsbook.yaml:10: status_page.subscribers.per_ip: 'lots' is not a rate limit"),
])
def test_mistakes_are_named_at_their_line(channel: str, per_ip: str, said: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(CONFIG.format(channel=channel, per_ip=per_ip), "opsbook.yaml", {})
    assert said in str(raised.value)


def test_a_mail_channel_is_accepted() -> None:
    settings = parse_config(CONFIG.format(channel="mail", per_ip="5/1m"), "opsbook.yaml", {}).config
    assert settings.status_page.subscribers.mail_channel == "mail"
    assert str(settings.status_page.subscribers.per_ip) == "5/1m"
