"""Which commands destroy something (data, infrastructure, history): a run asks for the step's name first."""

from __future__ import annotations

import re

_I = re.IGNORECASE
_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("rm -rf", re.compile(r"(?<![\w-])rm\s+(?:-[a-zA-Z]*[rRf][a-zA-Z]*|--recursive|--force)\b")),
    (
        "DROP",
        re.compile(
            r"\bDROP\s+(?:TABLE|DATABASE|SCHEMA|INDEX|VIEW|USER|ROLE|OWNED|MATERIALIZED|"
            r"FUNCTION|TRIGGER|EXTENSION|SEQUENCE|TYPE|TABLESPACE)\b",
            _I,
        ),
    ),
    ("TRUNCATE", re.compile(r"\bTRUNCATE\b(?:\s+TABLE)?\s+\w", _I)),
    ("DELETE FROM", re.compile(r"\bDELETE\s+FROM\b", _I)),
    ("dropdb", re.compile(r"(?<![\w-])(?:dropdb|dropuser)\b")),
    ("FLUSHALL", re.compile(r"\bFLUSH(?:ALL|DB)\b", _I)),
    ("delete-*", re.compile(r"(?<![\w-])delete-[a-z][a-z0-9-]*\b")),
    ("restore-db-instance", re.compile(r"\brestore-db-(?:instance|cluster)[a-z0-9-]*\b")),
    ("--force", re.compile(r"(?<![\w-])--force(?:-[a-z]+)?\b")),
    ("git push -f", re.compile(r"\bgit\s+push\b[^\n;|&]*\s-f\b")),
    ("git reset --hard", re.compile(r"\bgit\s+(?:reset\s+--hard|clean\s+-[a-z]*f)")),
    ("--delete", re.compile(r"(?<![\w-])--delete(?:-[a-z]+)?\b")),
    ("kubectl delete", re.compile(r"\bkubectl\s+(?:\S+\s+)*?(?:delete|drain)\b")),
    ("helm uninstall", re.compile(r"\bhelm\s+(?:uninstall|delete)\b")),
    ("terraform destroy", re.compile(r"\bterraform\s+(?:destroy|apply\s+[^\n]*-destroy)\b")),
    (
        "docker rm",
        re.compile(
            r"\bdocker(?:\s+compose)?\s+(?:rm|rmi|down\s+-v|(?:system|volume|image)\s+(?:prune|rm))\b"
        ),
    ),
    ("s3 rm", re.compile(r"\baws\s+s3\s+(?:rm|rb)\b")),
    ("mkfs", re.compile(r"\b(?:mkfs(?:\.\w+)?|wipefs|shred)\b")),
    ("dd", re.compile(r"\bdd\s+[^\n]*\bof=")),
    ("shutdown", re.compile(r"(?<![\w-])(?:shutdown|reboot|poweroff|halt)\b(?!-)")),
    ("kill -9", re.compile(r"\b(?:kill|pkill|killall)\s+-(?:9|KILL)\b")),
    ("pg_restore --clean", re.compile(r"\bpg_restore\b[^\n]*(?:--clean|-c\b)")),
)
_UPPER_TOKEN = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b")
_DESTRUCTIVE_WORDS = frozenset(
    {"RESTORE", "DELETE", "DROP", "DESTROY", "WIPE", "PURGE", "TRUNCATE", "REMOVE"}
)


def reasons(command: str) -> tuple[str, ...]:
    """Why `command` counts as destructive (empty when it does not), in rule order."""
    found = [label for label, pattern in _RULES if pattern.search(command)]
    for token in _UPPER_TOKEN.findall(command):
        if _DESTRUCTIVE_WORDS & set(token.split("_")):
            found.append(f"{token} (placeholder)")
            break
    return tuple(found)
