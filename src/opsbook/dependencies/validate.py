"""`depends_on` checked when opsbook.yaml is read: each unknown name and each cycle is an error at the
line of the entry (see graph.problems)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from opsbook.dependencies.graph import problems


def check_dependencies(services: list[Any]) -> list[Any]:
    """The `services:` validator: raises one error per wrong `depends_on` entry."""
    found = problems(services)
    if found:
        raise ValidationError.from_exception_data("opsbook.yaml", [
            InitErrorDetails(type=PydanticCustomError("dependency", p.message), loc=p.loc[1:], input=p.value)
            for p in found
        ])
    return services
