"""Duplicate indexes: an index whose columns are the same as, or a leading part of, another's. Pure.

Two indexes of one table with the same access method, the same predicate and expressions, where the
columns (and operator classes) of one are the first columns of the other: the shorter one is redundant
(the longer serves every query it serves), unless it enforces uniqueness and the longer does not. Of
two identical ones, the later-named non-unique one is reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class IndexDef:
    table: str
    name: str
    columns: str  # pg_index.indkey as text: "1 3"
    classes: str  # pg_index.indclass as text: "3124 3124"
    expressions: str
    predicate: str
    unique: bool
    bytes: int
    method: str

    def key(self) -> list[tuple[str, str]]:
        return list(zip(self.columns.split(), self.classes.split(), strict=False))

    def same_kind(self, other: IndexDef) -> bool:
        return (self.table, self.method, self.expressions, self.predicate) == (
            other.table, other.method, other.expressions, other.predicate
        )


def covers(longer: IndexDef, shorter: IndexDef) -> bool:
    """True if `shorter` is made redundant by `longer`."""
    if longer.name == shorter.name or not longer.same_kind(shorter):
        return False
    big, small = longer.key(), shorter.key()
    if len(small) > len(big) or big[: len(small)] != small:
        return False
    if shorter.unique and not (longer.unique and len(big) == len(small)):
        return False  # a unique index enforces something the longer one does not
    if len(big) == len(small) and longer.unique == shorter.unique:
        return shorter.name > longer.name  # identical: report one of the two
    return True


def duplicates(defs: list[IndexDef]) -> list[dict[str, Any]]:
    """Every redundant index with the index that covers it, largest first."""
    found: dict[str, dict[str, Any]] = {}
    by_table: dict[str, list[IndexDef]] = {}
    for d in defs:
        by_table.setdefault(d.table, []).append(d)
    for group in by_table.values():
        for small in group:
            for big in group:
                if small.name not in found and covers(big, small):
                    found[small.name] = {"table": small.table, "index": small.name, "covered_by": big.name,
                                         "bytes": small.bytes}
    return sorted(found.values(), key=lambda d: (-d["bytes"], d["index"]))
