"""Operations log entries as Markdown, in the runbooks' own template (pure: rows in, text out).

```
Date/Time: 2025-11-19 15:30 CET
Operation: [What you did]
Reason: [Why you did it]
Impact: [Service behavior before/after]
Duration: [How long it took]
Issues: [Any problems?]
Follow-up: [Anything to do next?]
```
followed by the operator, the incident and every step's command, exit code, duration and output. Times are
shown in the team's time zone with its abbreviation, lengths of time as `opsbook.timefmt.show_span` does.
"""

from __future__ import annotations

from collections.abc import Iterable

from opsbook.oplog.models import OplogEntryRow
from opsbook.timefmt import show_span, show_time


def human_duration(seconds: float | None) -> str:
    """12.3 -> '12 s', 125 -> '2 min 5 s', 3720 -> '1 h 2 min'; 'unknown' when not recorded."""
    return "unknown" if seconds is None else show_span(seconds)


def _fence(text: str) -> str:
    longest = max((len(run) for run in text.split("\n") if set(run) == {"`"}), default=0)
    ticks = "`" * max(3, longest + 1)
    body = text if text.endswith("\n") or not text else text + "\n"
    return f"{ticks}\n{body}{ticks}"


def template_block(entry: OplogEntryRow, zone: str = "UTC") -> str:
    """The seven template fields, as the runbook's code block has them (the time in `zone`)."""
    lines = [
        f"Date/Time: {show_time(entry.ts, zone)}",
        f"Operation: {entry.operation}",
        f"Reason: {entry.reason or 'Not given'}",
        f"Impact: {entry.impact or 'Not given'}",
        f"Duration: {human_duration(entry.duration_s)}",
        f"Issues: {entry.issues or 'None'}",
        f"Follow-up: {entry.follow_up or 'None'}",
    ]
    return "\n".join(lines)


def entry_markdown(entry: OplogEntryRow, zone: str = "UTC") -> str:
    when = show_time(entry.ts, zone)
    out = [f"## {when}: {entry.operation}", "", _fence(template_block(entry, zone)), ""]
    out.append(f"- **Operator:** {entry.operator}")
    out.append(f"- **Incident:** {entry.incident_id if entry.incident_id is not None else 'none'}")
    if entry.run_id is not None:
        out.append(f"- **Run:** #{entry.run_id}")
    out.append(f"- **Entry:** #{entry.id} ({entry.source})")
    if entry.steps:
        out += ["", "### Steps", ""]
        for step in entry.steps:
            head = f"{step.get('position', 0) + 1}. **{step.get('title', '')}** ({step.get('kind', '')}): "
            head += str(step.get("status", ""))
            details = []
            if step.get("exit_code") is not None:
                details.append(f"exit code {step['exit_code']}")
            if step.get("duration_s") is not None:
                details.append(f"took {human_duration(step['duration_s'])}")
            if details:
                head += " — " + ", ".join(details)
            out.append(head)
            if step.get("command"):
                out += ["", "   Command:", "", _indent(_fence(step["command"])), ""]
            if step.get("output"):
                out += ["   Output:", "", _indent(_fence(step["output"])), ""]
            if step.get("note"):
                out += [f"   Note: {step['note']}", ""]
    return "\n".join(out).rstrip() + "\n"


def _indent(text: str) -> str:
    return "\n".join("   " + line if line else line for line in text.split("\n"))


def export_markdown(
    entries: Iterable[OplogEntryRow], title: str = "Operation Logs", zone: str = "UTC"
) -> str:
    parts = [f"# {title}", ""]
    parts += [entry_markdown(e, zone) for e in entries]
    return "\n".join(parts)
