"""The one error hierarchy of opsbook's use cases, and how each surface presents it.

A use case raises `NotFound`, `Conflict`, `Invalid` or `Forbidden` (or a domain subclass of one of them)
with a sentence a person can act on. The HTTP side maps them to 404 / 409 / 400 / 403 in one
app-level handler (`web/app.py`), the CLI to exit codes in one place (`cli/common.py`), the web UI to
a flash message on the page. Nothing else decides how an error looks.

`Invalid` is also a `ValueError` and `NotFound` a `LookupError`, so code that validated with the
standard exceptions keeps working while it moves over.
"""

from __future__ import annotations


class OpsbookError(Exception):
    """A request that cannot be done; `str(error)` says why, in words for the person who asked."""

    http_status = 400
    exit_code = 2


class NotFound(OpsbookError, LookupError):
    """The thing asked for does not exist (no incident 42, no procedure "Restore")."""

    http_status = 404
    exit_code = 1


class Conflict(OpsbookError):
    """The thing exists but its state forbids the change (resolved already, link used already)."""

    http_status = 409
    exit_code = 1


class Invalid(OpsbookError, ValueError):
    """The input is wrong (an unknown status, an empty note, a duration that does not parse)."""

    http_status = 400
    exit_code = 2


class Forbidden(OpsbookError):
    """The caller's role does not allow this change."""

    http_status = 403
    exit_code = 3


def http_status(exc: BaseException) -> int:
    """The HTTP status for an error raised by a use case (400 for plain ValueErrors)."""
    return exc.http_status if isinstance(exc, OpsbookError) else 400


def exit_code(exc: BaseException) -> int:
    """The CLI exit code for an error raised by a use case (2: bad input, 1: not found or conflict,
    3: not allowed)."""
    return exc.exit_code if isinstance(exc, OpsbookError) else 2
