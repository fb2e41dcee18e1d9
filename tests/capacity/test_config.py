"""Bad capacity and maintenance sections name the file, the line and the field."""

from __future__ import annotations

import pytest

from opsbook.config.loader import parse_config
from opsbook.config.yamlpos import ConfigError

CONFIG = """\
services:
  - name: db
    checks:
      - {name: disk, kind: host}
      - {name: main, kind: postgres, dsn: "postgresql://u@127.0.0.1/x"}
maintenance_windows:
  - {name: sunday-db, cron: "0 2 * * 0", duration: 2h, services: [db]}
postgres:
  maintenance:
    - {name: vacuum, check: db/main, sql: VACUUM, cron: "15 2 * * 0", window: sunday-db}
    - {name: other, check: db/disk, sql: VACUUM, cron: "15 2 * * 0", window: saturday}
capacity:
  resources:
    - {name: disk, check: db/disk, value: "disk_pct:/data", plan: [{at: 80, action: grow}]}
    - {name: gone, check: db/nope, value: "disk_pct:/data"}
"""


def test_every_problem_at_its_line() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(CONFIG, "ops.yaml", {})
    lines = sorted(str(issue) for issue in caught.value.issues)
    assert lines == [
        "ops.yaml:11: postgres.maintenance[1].check: no postgres check 'db/disk' (known: db/main)",
        "ops.yaml:11: postgres.maintenance[1].window: no maintenance window 'saturday' (known: sunday-db)",
        "ops.yaml:15: capacity.resources[1].check: no check 'db/nope' (write service/check; known: db/disk, "
        "db/main)",
    ]
    with pytest.raises(ConfigError) as zero:
        parse_config(CONFIG + "    - {name: empty, check: db/disk, value: x, capacity: 0}\n", "ops.yaml", {})
    assert "ops.yaml:16: capacity.resources[2].capacity: Input should be greater than 0" in [
        str(issue) for issue in zero.value.issues
    ]


def test_a_good_section_loads() -> None:
    plan = "[{at: 90, action: b}, {at: 80, action: a}]"
    good = CONFIG.split("    - {name: other")[0] + "capacity:\n  resources:\n" + \
        f'    - {{name: disk, check: db/disk, value: "disk_pct:/data", plan: {plan}}}\n'
    loaded = parse_config(good, "ops.yaml", {})
    (resource,) = loaded.config.capacity.resources
    assert [s.at for s in resource.plan] == [80, 90] and resource.label() == "disk"
    assert loaded.config.postgres.maintenance[0].sql == ["VACUUM"]
