"""One way out: no module outside `opsbook/notify/` writes outbox rows.

Every message is a typed message handed to `opsbook.notify.service.send`, which routes, renders, dedups
and queues it. This walks the source with `ast` and fails on any module elsewhere that imports the
outbox writer (`opsbook.notify.outbox`, or its `enqueue`) or constructs an `OutboxRow`.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "opsbook"
NOTIFY = SRC / "notify"
WRITER = "opsbook.notify.outbox"


def _module(path: Path) -> str:
    return ".".join(path.relative_to(SRC.parent).with_suffix("").parts)


def _absolute(path: Path, node: ast.ImportFrom) -> str:
    """The module an `from X import ...` names, relative imports resolved."""
    if not node.level:
        return node.module or ""
    package = _module(path).split(".")[: -node.level]
    return ".".join([*package, *([node.module] if node.module else [])])


def violations(path: Path, source: str) -> list[str]:
    """What in `source` (the module at `path`) writes outbox rows, as 'file:line: what'."""
    found: list[str] = []
    where = f"{path.relative_to(SRC.parent)}"
    for node in ast.walk(ast.parse(source, str(path))):
        if isinstance(node, ast.Import):
            found += [f"{where}:{node.lineno}: imports {a.name}" for a in node.names if a.name == WRITER]
        elif isinstance(node, ast.ImportFrom):
            module = _absolute(path, node)
            names = {a.name for a in node.names}
            if module == WRITER or (module == "opsbook.notify" and "outbox" in names):
                found.append(f"{where}:{node.lineno}: imports the outbox writer from {module}")
            elif "enqueue" in names and module.startswith("opsbook.notify"):
                found.append(f"{where}:{node.lineno}: imports enqueue from {module}")
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if name == "OutboxRow":
                found.append(f"{where}:{node.lineno}: constructs an OutboxRow")
    return found


def test_nothing_outside_notify_writes_outbox_rows() -> None:
    modules = [p for p in SRC.rglob("*.py") if NOTIFY not in p.parents]
    assert len(modules) > 50  # the walk found the source
    found = [v for path in modules for v in violations(path, path.read_text(encoding="utf-8"))]
    assert found == [], "messages go through opsbook.notify.service.send:\n" + "\n".join(found)


def test_the_check_sees_every_way_of_writing_rows() -> None:
    path = SRC / "deploys" / "service.py"  # a domain that does not exist yet
    for source in (
        "from opsbook.notify.outbox import enqueue",
        "from opsbook.notify import outbox",
        "import opsbook.notify.outbox",
        "from ..notify.outbox import cancel",
        "from opsbook.notify.models import OutboxRow\nrow = OutboxRow(channel='ops')",
        "from opsbook.notify import models\nrow = models.OutboxRow(channel='ops')",
    ):
        assert violations(path, source), source
    reading = "from opsbook.notify.models import OutboxRow\nquery = select(OutboxRow.id)"
    assert violations(path, reading) == []
