"""docs/configuration.md is generated from the schema; it must match the code that reads the file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_configuration_reference_is_current() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts/config_reference.py"), "--check"], check=False
    )
    assert result.returncode == 0, "docs/configuration.md is stale: run python scripts/config_reference.py"
