"""Secrets of opsbook's environment that opsbook.yaml does not name never show in check output, and
child processes do not inherit them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from opsbook.checks.kinds.command import CommandCheck
from opsbook.checks.runner import run_check
from opsbook.checks.spec import RunContext
from opsbook.clock import SystemClock
from opsbook.config.loader import parse_config
from opsbook.redact import child_environment, environment_secrets, forget_environment

SECRET = "s3cr3t-Horse-Battery"


@pytest.fixture(autouse=True)
def fresh_environment() -> Iterator[None]:
    forget_environment()
    yield
    forget_environment()


def command(text: str, env: dict[str, str] | None = None) -> CommandCheck:
    return CommandCheck.model_validate({"kind": "command", "name": "cmd", "command": text, "env": env or {}})


async def test_a_child_gets_only_the_basics_and_what_the_config_passes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DB_PASSWORD", SECRET)
    monkeypatch.setenv("OPSBOOK_DATABASE_URL", f"postgresql://app:{SECRET}x@db/app")
    result = await run_check(command("printenv", {"GREETING": "hello"}), RunContext(clock=SystemClock()))
    assert "GREETING=hello" in result.message and "PATH=" in result.message
    assert SECRET not in result.message and "DB_PASSWORD" not in result.message
    assert "OPSBOOK_DATABASE_URL" not in result.message
    assert set(child_environment()) <= {"PATH", "HOME", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TZ",
                                        "USER", "LOGNAME", "SHELL", "TMPDIR", "TERM"}


async def test_output_echoing_an_unnamed_secret_is_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLING_API_TOKEN", SECRET)
    result = await run_check(command(f"echo pw={SECRET}"), RunContext(clock=SystemClock()))
    assert result.message.strip().endswith("pw=***")


def test_environment_secrets_take_secret_names_and_url_passwords_but_not_flags_or_paths() -> None:
    found = environment_secrets({
        "DB_PASSWORD": SECRET,
        "DATABASE_URL": "postgresql://app:pg-pass-123@db/app",
        "FEATURE_TOKEN_ENABLED": "true",
        "SSH_AUTH_SOCK": "/tmp/ssh-XXXX/agent.1",
        "API_KEY": "abc",  # too short to mask safely
        "HOME": "/root",
    })
    assert found == {SECRET, "pg-pass-123"}


def test_a_loaded_config_masks_environment_secrets_it_does_not_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRIPE_SECRET", SECRET)
    loaded = parse_config("services: []\n", "opsbook.yaml", {})
    assert SECRET in loaded.all_secrets()
