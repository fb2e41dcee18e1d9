"""What a parsed runbook is: procedures of steps, and the parameters their commands need (plain data)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

StepKind = Literal["confirm", "manual", "shell", "sql", "reference"]
ParamKind = Literal["text", "date", "env"]

COMMAND_KINDS: frozenset[str] = frozenset({"shell", "sql"})
ACTION_KINDS: frozenset[str] = frozenset({"confirm", "manual", "shell", "sql"})
PATH_SEP = " \u203a "


@dataclass(frozen=True)
class Parameter:
    """A value asked for before a run. `tokens` are the spellings replaced by the value in commands.

    `env` parameters (`$REDIS_PASSWORD`) are not replaced: the shell reads them from the environment,
    and their values are secret (never printed, masked in every output).
    """

    name: str
    kind: ParamKind = "text"
    tokens: tuple[str, ...] = ()

    @property
    def secret(self) -> bool:
        return self.kind == "env"


@dataclass(frozen=True)
class Step:
    """One thing to do: confirm a checklist item, do something by hand, run a command, or read a snippet."""

    kind: StepKind
    title: str
    name: str = ""
    command: str = ""
    language: str = ""
    notes: tuple[str, ...] = ()
    group: str = ""
    checked: bool = False
    parameters: tuple[str, ...] = ()
    destructive: tuple[str, ...] = ()
    timeout: float | None = None
    confirm: bool = False
    auto: bool = False
    database: str | None = None
    line: int = 0

    @property
    def runnable(self) -> bool:
        return self.kind in COMMAND_KINDS

    @property
    def actionable(self) -> bool:
        return self.kind in ACTION_KINDS


@dataclass(frozen=True)
class Procedure:
    """A heading with steps under it; `path` is the heading and its parents (the document title left out)."""

    title: str
    path: tuple[str, ...]
    slug: str
    level: int
    line: int
    steps: tuple[Step, ...]
    parameters: tuple[Parameter, ...] = ()
    description: str = ""
    auto: bool = False

    @property
    def display(self) -> str:
        return PATH_SEP.join(self.path)

    def parameter(self, name: str) -> Parameter | None:
        wanted = name.strip().lower()
        for param in self.parameters:
            if param.name.lower() == wanted or any(t.lower() == wanted for t in param.tokens):
                return param
        return None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Procedure:
        steps = tuple(
            Step(
                **{
                    **s,
                    "notes": tuple(s.get("notes", ())),
                    "parameters": tuple(s.get("parameters", ())),
                    "destructive": tuple(s.get("destructive", ())),
                }
            )
            for s in data["steps"]
        )
        params = tuple(
            Parameter(name=p["name"], kind=p["kind"], tokens=tuple(p["tokens"]))
            for p in data.get("parameters", ())
        )
        return cls(
            title=data["title"],
            path=tuple(data["path"]),
            slug=data["slug"],
            level=data["level"],
            line=data["line"],
            steps=steps,
            parameters=params,
            description=data.get("description", ""),
            auto=data.get("auto", False),
        )


@dataclass(frozen=True)
class Runbook:
    """One Markdown file: its title and the procedures found in it."""

    title: str
    procedures: tuple[Procedure, ...]
    source: str = ""
    auto: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "source": self.source,
            "auto": self.auto,
            "procedures": [p.to_dict() | {"display": p.display} for p in self.procedures],
        }
