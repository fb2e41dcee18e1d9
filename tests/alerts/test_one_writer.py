"""Grep-level: an alert's state is written in one place, `alerts/changes.py`, where the state machine's
decisions are applied. No other module that knows `AlertRow` assigns its state fields, passes them to
its constructor, or sets them in an SQL UPDATE."""

from __future__ import annotations

import ast
from pathlib import Path

import opsbook

SRC = Path(opsbook.__file__).parent
WRITER = SRC / "alerts" / "changes.py"
STATUS = {"state", "pending_since", "fired_at", "clear_since", "due_at", "acknowledged_at", "open_key"}
# resolved_at is left out: incident links have one of their own.


def _targets(node: ast.Assign | ast.AugAssign | ast.AnnAssign) -> list[ast.expr]:
    if not isinstance(node, ast.Assign):
        return [node.target]
    found: list[ast.expr] = []
    for target in node.targets:
        found += list(target.elts) if isinstance(target, ast.Tuple) else [target]
    return found


def writes(path: Path) -> list[str]:
    """`file:line what` for every write of an alert status field in this module."""
    tree = ast.parse(path.read_text(), str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            out += [f"{path.relative_to(SRC)}:{node.lineno} assigns .{t.attr}"
                    for t in _targets(node) if isinstance(t, ast.Attribute) and t.attr in STATUS]
        if isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            if name in ("AlertRow", "values"):
                out += [f"{path.relative_to(SRC)}:{node.lineno} {name}({kw.arg}=...)"
                        for kw in node.keywords if kw.arg in STATUS]
    return out


def test_only_alerts_changes_writes_an_alert_state() -> None:
    knowing = [p for p in sorted(SRC.rglob("*.py")) if "AlertRow" in p.read_text() and p != WRITER]
    assert len(knowing) > 3  # the alert engine, external events, the API, incidents …
    assert [w for path in knowing for w in writes(path)] == []
    assert len(writes(WRITER)) >= 7  # and the guard does see the writes where they belong
