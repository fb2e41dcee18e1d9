"""What a run of a procedure can refuse, in opsbook's error hierarchy (so the API answers 404 / 409 / 400
and the CLI exits 1 / 1 / 2 without translating)."""

from __future__ import annotations

from opsbook.errors import Conflict, Invalid, NotFound
from opsbook.runbooks.document import Step


class RunNotFound(NotFound):
    """No run with that id."""


class RunError(Conflict):
    """The run's or the step's state forbids the action (not running, handled already, nothing left)."""


class RunInputError(Invalid):
    """The request is wrong whatever the state: an unknown or missing parameter, an action that does not fit
    the step's kind."""


class ConfirmationRequired(Conflict):
    """A destructive step is run only when the operator typed its name."""

    def __init__(self, step: Step, reasons: tuple[str, ...]) -> None:
        super().__init__(f"step {step.name!r} is destructive ({', '.join(reasons)}): type its name to run it")
        self.step = step
        self.reasons = reasons


class NotAutomatable(Conflict):
    """Unattended runs are only for procedures or steps marked `auto: true`."""
