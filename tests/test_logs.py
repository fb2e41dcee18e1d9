"""Logging: a repeated error is written once a minute with a count; secrets are masked."""

from __future__ import annotations

import logging

from opsbook.logs import RepeatFilter


def record(msg: str, at: float, level: int = logging.ERROR, exc: type[BaseException] | None = None
           ) -> logging.LogRecord:
    rec = logging.LogRecord("opsbook.checks.writer", level, __file__, 1, msg, None,
                            (exc, exc("x"), None) if exc else None)
    rec.created = at
    return rec


def test_repeats_are_held_back_and_counted() -> None:
    keep = RepeatFilter(window=60)
    offered = [record("writing %d results failed", 1000 + i, exc=OSError) for i in range(0, 130, 2)]
    written = [r for r in offered if keep.filter(r)]
    assert [r.created for r in written] == [1000, 1060, 1120]
    assert str(written[1].msg).endswith("(29 more like this in the last 60s)")
    other = record("writing %d results failed", 1001, exc=TimeoutError)  # another error: its own line
    assert keep.filter(other)
    assert keep.filter(record("routine", 1002, level=logging.INFO))
    assert keep.filter(record("routine", 1003, level=logging.INFO))  # info is never held back
