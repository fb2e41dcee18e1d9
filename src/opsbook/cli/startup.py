"""The cyclic garbage collector held off while a command's modules load, for the CLI's start-up.

Importing a command makes a few hundred thousand objects (classes, functions, SQLAlchemy's and pydantic's
tables) that live as long as the process and are never garbage. CPython's collector counts them as new
allocations and runs over them again and again while they accumulate: about a tenth of a responder's
command start-up on the project's machine. `collector_held` turns the collector off while modules load,
then moves what was loaded out of its sight for good (`gc.freeze`, as `opsbook serve` does after start-up)
and turns it back on, so whatever the command then makes and drops is collected as usual.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_held() -> Iterator[None]:
    """No cyclic collection inside the block; what exists at its end is frozen out of later ones."""
    if not gc.isenabled():  # someone else holds it (a test, an embedding program): leave it to them
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()
