"""Logging setup: one format, a filter that holds back repeats of the same warning, and one that masks
secrets in every record before it is written."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable


class RedactingFilter(logging.Filter):
    def __init__(self, redact: Callable[[str], str]) -> None:
        super().__init__()
        self._redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg = self._redact(message)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self._redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class RepeatFilter(logging.Filter):
    """Writes a warning or error that repeats (same logger, message and exception type) once per
    `window` seconds, then says how many like it were held back: a database outage gives a line a
    minute, not a traceback per attempt."""

    def __init__(self, window: float = 60.0) -> None:
        super().__init__()
        self.window = window
        self._seen: dict[tuple[str, int, str, str], tuple[float, int]] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        error = record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else ""
        key = (record.name, record.levelno, str(record.msg), error)
        with self._lock:
            first, held = self._seen.get(key, (0.0, 0))
            if first and record.created - first < self.window:
                self._seen[key] = (first, held + 1)
                return False
            self._seen[key] = (record.created, 0)
            if len(self._seen) > 10_000:
                self._seen.clear()
        if held:
            record.msg = f"{record.msg} ({held} more like this in the last {int(record.created - first)}s)"
        return True


def setup_logging(redact: Callable[[str], str], level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RepeatFilter())
    handler.addFilter(RedactingFilter(redact))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
