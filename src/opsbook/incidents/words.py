"""What people read for the incidents domain's identifiers: timeline kinds, escalation steps, the alert an
incident holds. Pure: the incident page, the CLI, the post-mortem and messages take their words from here,
so `all_alerts_resolved` reads "All alerts resolved" and escalation levels count from 1 everywhere."""

from __future__ import annotations

TIMELINE_WORDS = {
    "opened": "Opened",
    "acknowledged": "Acknowledged",
    "status": "Status changed",
    "severity": "Severity changed",
    "resolved": "Resolved",
    "alert_joined": "Alert joined",
    "alert_resolved": "Alert resolved",
    "alert_detached": "Alert left (pages on its own)",
    "all_alerts_resolved": "All alerts resolved",
    "sla_breach": "Response time missed",
    "note": "Note",
    "details": "Details changed",
    "page": "Paged",
    "runbook": "Runbook run",
    "operation": "Operation",
    "published": "Published on the status page",
    "unpublished": "Taken off the status page",
    "public_title": "Public title changed",
    "public_update": "Public update",
    "public_update_edited": "Public update edited",
}
"""Each timeline kind (incident entries, and `runbook` / `operation` for operations log entries) in words."""


def timeline_label(kind: str) -> str:
    """`all_alerts_resolved` -> "All alerts resolved"; a kind this table does not know yet reads the same
    way (underscores as spaces, a capital first letter), never as an identifier."""
    return TIMELINE_WORDS.get(kind) or kind.replace("_", " ").replace(".", " ").strip().capitalize()


def escalation_step(level: int, round_: int = 0, kind: str = "level") -> str:
    """An escalation step as people count it: `level 1`, `level 2, round 2`, `reminder 3`. For a level
    step `level` and `round_` are the engine's 0-based positions; a reminder (`renotify`) counts from 1."""
    if kind == "renotify":
        return f"reminder {round_}"
    return f"level {level + 1}" + (f", round {round_ + 1}" if round_ else "")


def step_of_key(key: str) -> str:
    """The engine's step key in words: `r0-l1` -> "level 2", `renotify-2` -> "reminder 2"; a key of
    another shape is shown as it is."""
    head, _, tail = key.partition("-")
    if head == "renotify" and tail.isdigit():
        return escalation_step(0, int(tail), "renotify")
    if head[:1] == "r" and tail[:1] == "l" and head[1:].isdigit() and tail[1:].isdigit():
        return escalation_step(int(tail[1:]), int(head[1:]))
    return key


def alert_name(service: str | None, check_id: str | None, rule: str | None) -> str:
    """`api · health · rule api-down`: the service, the check within it and the rule, without repeating
    the service in the check's id; any part may be missing."""
    parts = [service] if service else []
    if check_id:
        owner, _, check = check_id.partition("/")
        parts.append(check if check and owner == service else check_id)
    if rule:
        parts.append(f"rule {rule}")
    return " · ".join(parts) or "—"
