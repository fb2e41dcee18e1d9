"""Modules bound at the top of a module but loaded at their first use, for the CLI's start-up.

A responder's command imports its CLI module, and that module names every use case it offers: importing
them all makes `opsbook incident list` pay for what `opsbook incident ack` needs (the escalation, the
notification outbox and templates, the runbook parser: about 100 ms on the project's machine). A module
from `lazy_modules` is bound by name as an import is, and loaded the first time an attribute of it is
read (`importlib.util.LazyLoader`, the standard library's deferred loader); a module already imported is
returned as it is.

    if TYPE_CHECKING:
        from opsbook.incidents import service
    else:
        (service,) = lazy_modules("opsbook.incidents.service")

mypy checks the real module; at run time the name is bound without loading it. Python 3.11's
LazyLoader is not safe when two threads make the first access at once, so bind lazily only in modules
first used on one thread: the CLI's command modules, not what `opsbook serve` shares between threads.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def lazy_modules(*names: str) -> tuple[ModuleType, ...]:
    """Each module named, loaded at the first attribute read (or the module itself if imported)."""
    return tuple(_lazy(name) for name in names)


def _lazy(name: str) -> ModuleType:
    found = sys.modules.get(name)
    if found is not None:
        return found
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"no module named {name!r}", name=name)
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, module)  # as the import system binds a loaded submodule
    return module
