"""The override a gap warning suggests works as typed: its command line, run in a shell by a real `opsbook`
process from the config's folder, fills exactly the gap the warning is about, with one of the schedule's
people (it said USER before, which no shell could run)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from opsbook.clock import FakeClock
from opsbook.notify.messages import GapWarning
from opsbook.notify.service import render_message
from opsbook.oncall.service import list_overrides
from tests.support import make_runtime

BIN = str(Path(sys.executable).parent)
CONFIG = """
title: Acme
timezone: UTC
database_url: sqlite:///{db}
users:
  - {{name: ana}}
  - {{name: ben}}
schedules:
  - name: primary
    timezone: Europe/Berlin
    layers:
      - {{name: weekly, users: [ben, ana], turn: 1w, handoff: "monday 09:00", start: 2026-03-02}}
"""
START = datetime(2026, 3, 31, 0, 0, tzinfo=UTC)  # 02:00 in Berlin (summer time)
END = datetime(2026, 3, 31, 7, 0, tzinfo=UTC)


def test_a_gap_warnings_override_command_works_as_typed(sqlite_engine: Engine, tmp_path: Path) -> None:
    text = CONFIG.format(db=tmp_path / "opsbook.db")
    (tmp_path / "opsbook.yaml").write_text(text, encoding="utf-8")
    runtime = make_runtime(sqlite_engine, FakeClock(datetime(2026, 3, 27, 8, tzinfo=UTC)), text)
    warning = GapWarning(schedule="primary", zone="Europe/Berlin", start=START, end=END, shown_start=START,
                         description="nobody is on call on primary", began_long_ago=False,
                         may_last_longer=False, lookback_days=35, days_ahead=14, users=("ben", "ana"))
    body = render_message(runtime.config, warning).body
    assert "Fill it with an override (one of ben, ana), e.g." in body
    (line,) = re.findall(r"(?m)^\s*(opsbook oncall override add .*)$", body)
    assert line == "opsbook oncall override add primary ben --from 2026-03-31T02:00 --to 2026-03-31T09:00"

    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "OPSBOOK_USER": "ana"}
    env.pop("OPSBOOK_CONFIG", None)
    env.pop("OPSBOOK_DATABASE_URL", None)
    done = subprocess.run(["bash", "-c", line], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    with runtime.sessions() as session:
        (override,) = list_overrides(session, "primary")
    assert (override.user, override.start, override.end) == ("ben", START, END)
