"""`opsbook incident open|ack|resolve|note|status|severity|publish|unpublish|update|list|show|postmortem`
and `opsbook report incidents`.

Changes are the use cases of service.py, made as `cli_actor` (`--as`, $OPSBOOK_USER, the login name) and
audit-logged like the API's. Pages and update messages are written to the outbox; the running
`opsbook serve` learns of the change and delivers them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from opsbook.cli.common import (
    AuthorOption,
    ConfigOption,
    cli_actor,
    cli_errors,
    console,
    fail,
    parse_since,
    runtime_or_exit,
    time_column,
)
from opsbook.incidents import queries
from opsbook.incidents.models import STATUSES, IncidentRow, PublicUpdateRow
from opsbook.incidents.words import timeline_label
from opsbook.lazy import lazy_modules
from opsbook.runtime import Runtime
from opsbook.timefmt import show_span, show_time

if TYPE_CHECKING:
    from opsbook.incidents import postmortem, public, report, service
else:  # loaded by the commands that use them: `incident list` needs none (see opsbook.lazy)
    postmortem, public, report, service = lazy_modules(
        "opsbook.incidents.postmortem", "opsbook.incidents.public", "opsbook.incidents.report",
        "opsbook.incidents.service",
    )

app = typer.Typer(no_args_is_help=True, help="Incidents: open, acknowledge, update, resolve, post-mortems.")
report_app = typer.Typer(no_args_is_help=True, help="Reports over a period.")

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
PUBLIC_STATUS_HELP = "investigating, identified, monitoring or resolved (default: the incident's)."


def _when(t: datetime | None, tz: str) -> str:
    return show_time(t, tz)


def _said(verb: str, row: IncidentRow) -> None:
    console.print(f"incident {row.id} {verb}: [{row.severity}] {row.title} — {row.status}", markup=False,
                  highlight=False)


@contextmanager
def _acting(config: str | None, *, create: bool = True) -> Iterator[Runtime]:
    """The runtime, with the use case's errors shown as `error: ...` and their exit code; closed after.
    `create=False` for what only reads (see runtime_or_exit)."""
    runtime = runtime_or_exit(config, create=create)
    try:
        with cli_errors(runtime):
            yield runtime
    finally:
        runtime.close()


@app.command("open")
def open_cmd(
    title: Annotated[str, typer.Argument(help="Short description.")],
    severity: Annotated[str, typer.Option("--severity", "-s", help="P0 … P4.")] = "P2",
    service_name: Annotated[str | None, typer.Option("--service", help="The service affected.")] = None,
    summary: Annotated[str, typer.Option("--summary", help="What is known.")] = "",
    impact: Annotated[str, typer.Option("--impact", help="Who is affected and how.")] = "",
    customer_facing: Annotated[bool, typer.Option("--customer-facing", help="Publish on /status.")] = False,
    commander: Annotated[str | None, typer.Option("--commander", help="Incident commander.")] = None,
    author: AuthorOption = None,
    config: ConfigOption = None,
) -> None:
    """Open an incident by hand: its escalation policy pages the first level at once."""
    actor = cli_actor(author)
    with _acting(config) as runtime:
        row = service.open_incident(runtime, actor, title=title, severity=severity, service=service_name,
                                    summary=summary, impact=impact, customer_facing=customer_facing,
                                    commander=commander)
    _said("opened", row)


@app.command("ack")
def ack_cmd(incident_id: int, author: AuthorOption = None, config: ConfigOption = None) -> None:
    """Acknowledge: stops the escalation."""
    actor = cli_actor(author)
    with _acting(config) as runtime:
        row = service.acknowledge_incident(runtime, actor, incident_id, via="cli")
    _said(f"acknowledged by {row.acknowledged_by}", row)


@app.command("resolve")
def resolve_cmd(
    incident_id: int,
    message: Annotated[str, typer.Option("--message", "-m", help="How it was resolved.")] = "",
    author: AuthorOption = None,
    config: ConfigOption = None,
) -> None:
    """Resolve: ends the escalation and re-notifications."""
    actor = cli_actor(author)
    with _acting(config) as runtime:
        row = service.resolve_incident(runtime, actor, incident_id, message=message)
    _said("resolved", row)


@app.command("note")
def note_cmd(incident_id: int, text: str, author: AuthorOption = None, config: ConfigOption = None) -> None:
    """Add a note to the timeline."""
    actor = cli_actor(author)
    with _acting(config) as runtime:
        service.add_incident_note(runtime, actor, incident_id, text)
    console.print(f"note added to incident {incident_id}", markup=False, highlight=False)


@app.command("status")
def status_cmd(
    incident_id: int,
    status: Annotated[str, typer.Argument(help=", ".join(STATUSES[1:]))],
    message: Annotated[str, typer.Option("--message", "-m", help="The update.")] = "",
    impact: Annotated[str | None, typer.Option("--impact", help="Who is affected and how.")] = None,
    eta: Annotated[str | None, typer.Option("--eta", help="Expected resolution.")] = None,
    author: AuthorOption = None,
    config: ConfigOption = None,
) -> None:
    """Set the status (the update message goes to the update channels)."""
    actor = cli_actor(author)
    with _acting(config) as runtime:
        row = service.set_incident_status(runtime, actor, incident_id, status, message=message, impact=impact,
                                          eta=eta)
    _said("is now", row)


@app.command("severity")
def severity_cmd(
    incident_id: int,
    severity: Annotated[str, typer.Argument(help="P0 … P4")],
    message: Annotated[str, typer.Option("--message", "-m", help="Why.")] = "",
    author: AuthorOption = None,
    config: ConfigOption = None,
) -> None:
    """Change the severity."""
    actor = cli_actor(author)
    with _acting(config) as runtime:
        row = service.set_incident_severity(runtime, actor, incident_id, severity, message=message)
    _said("severity set", row)


@app.command("publish")
def publish_cmd(
    incident_id: int,
    title: Annotated[str | None, typer.Option("--title", "-t", help="Its title on the status page.")] = None,
    message: Annotated[str, typer.Option("--message", "-m", help="A first update for customers.")] = "",
    status: Annotated[str | None, typer.Option("--status", help=PUBLIC_STATUS_HELP)] = None,
    author: AuthorOption = None,
    config: ConfigOption = None,
) -> None:
    """Show the incident on the status page under a public title (again: change the title)."""
    actor = cli_actor(author)
    with _acting(config) as runtime:
        row = service.publish_incident(runtime, actor, incident_id, title=title, message=message,
                                       status=status)
    console.print(f"incident {row.id} is on the status page as “{row.public_title or row.title}”"
                  + (" with a first update" if message.strip() else ""), markup=False, highlight=False)


@app.command("unpublish")
def unpublish_cmd(incident_id: int, author: AuthorOption = None, config: ConfigOption = None) -> None:
    """Take the incident's title and public updates off the status page."""
    actor = cli_actor(author)
    with _acting(config) as runtime:
        row = service.unpublish_incident(runtime, actor, incident_id)
    console.print(f"incident {row.id} shows on the status page under a generic name only", markup=False,
                  highlight=False)


@app.command("update")
def update_cmd(
    incident_id: int,
    text: Annotated[str, typer.Option("--public", "-p", help="The update for customers, as /status shows.")],
    status: Annotated[str | None, typer.Option("--status", help=PUBLIC_STATUS_HELP)] = None,
    edit: Annotated[int | None, typer.Option("--edit", min=1, help="Correct public update N.")] = None,
    author: AuthorOption = None,
    config: ConfigOption = None,
) -> None:
    """Post an update for customers on a published incident (or correct one with --edit N)."""
    actor = cli_actor(author)
    with _acting(config) as runtime:
        if edit is None:
            update = service.post_public_update(runtime, actor, incident_id, text, status=status)
        else:
            update = service.edit_public_update(runtime, actor, incident_id, edit, text, status=status)
    verb = "corrected" if edit is not None else "posted"
    console.print(f"public update {update.number} of incident {incident_id} {verb} ({update.status})",
                  markup=False, highlight=False)


@app.command("list")
def list_cmd(
    all_: Annotated[bool, typer.Option("--all", "-a", help="Resolved ones too.")] = False,
    status: Annotated[str | None, typer.Option("--status")] = None,
    service_name: Annotated[str | None, typer.Option("--service")] = None,
    severity: Annotated[str | None, typer.Option("--severity")] = None,
    limit: Annotated[int, typer.Option("--limit")] = 50,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Open incidents, newest first (--all for resolved ones too)."""
    runtime = runtime_or_exit(config, create=False)
    try:
        with runtime.sessions() as session:
            rows = queries.list_incidents(
                session,
                status=status,
                open_only=not all_ and status is None,
                service=service_name,
                severity=severity,
                limit=limit,
            )
            data = [queries.incident_dict(r) for r in rows]
    except ValueError as exc:
        raise fail(str(exc)) from None
    finally:
        runtime.close()
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    if not data:
        console.print("no incidents" if all_ else "no open incidents")
        return
    tz = runtime.config.timezone
    table = Table("ID", "Sev", "Status", "Service", "Title", time_column("Opened"), "Ack by")
    for r in rows:
        table.add_row(
            str(r.id),
            r.severity,
            r.status,
            r.service or "—",
            r.title,
            _when(r.opened_at, tz),
            r.acknowledged_by or "—",
        )
    console.print(table)


@app.command("show")
def show_cmd(incident_id: int, as_json: JsonOption = False, config: ConfigOption = None) -> None:
    """An incident with its alerts, pages and full timeline."""
    with _acting(config, create=False) as runtime, runtime.sessions() as session:
        row = queries.get_incident(session, incident_id)
        data = queries.incident_dict(row)
        items = queries.timeline(session, row.id)
        steps = queries.steps_of(session, row.id)
        alerts = queries.alerts_of(session, row.id)
        said = public.updates_of(session, row.id)
    tz = runtime.config.timezone
    if as_json:
        data["public_updates"] = [
            {"number": u.number, "ts": u.ts.isoformat(), "status": u.status, "text": u.text,
             "author": u.author, "edited_at": u.edited_at.isoformat() if u.edited_at else None}
            for u in said
        ]
        data["timeline"] = [
            {
                "ts": i.ts.isoformat(),
                "kind": i.kind,
                "actor": i.actor,
                "message": i.message,
                "source": i.source,
            }
            for i in items
        ]
        data["pages"] = [
            {"step": s.step_key, "users": s.users, "sent_at": s.sent_at.isoformat()} for s in steps
        ]
        data["alerts"] = [
            {"alert_id": a.alert_id, "check_id": a.check_id, "summary": a.summary} for a in alerts
        ]
        typer.echo(json.dumps(data, indent=2))
        return
    out = [
        f"Incident {row.id}: [{row.severity}] {row.title}",
        f"Status: {row.status}    Service: {', '.join(row.services or []) or '—'}    Source: {row.source}",
        f"Opened {_when(row.opened_at, tz)}  Acknowledged "
        + ("never" if row.resolved_at and not row.acknowledged_at else _when(row.acknowledged_at, tz))
        + (f" by {row.acknowledged_by}" if row.acknowledged_by else "")
        + f"  Resolved {_when(row.resolved_at, tz)}",
        f"Ack deadline {_when(row.ack_deadline, tz)}" + ("  (SLA missed)" if row.sla_breached_at else ""),
    ]
    if row.impact:
        out.append(f"Impact: {row.impact}")
    if row.eta:
        out.append(f"ETA: {row.eta}")
    if row.commander:
        out.append(f"Commander: {row.commander}")
    out += _public_lines(row, said, tz)
    out += ["", "Timeline:"]
    out += [
        f"  {_when(i.ts, tz)}  {timeline_label(i.kind):<20} {i.message}"
        + (f"  ({i.actor})" if i.actor else "")
        for i in items
    ]
    typer.echo("\n".join(out))


def _public_lines(row: IncidentRow, said: list[PublicUpdateRow], tz: str) -> list[str]:
    """The incident as the status page shows it: published or not, its public title and updates."""
    if not row.customer_facing:
        hint = f'opsbook incident publish {row.id} --title "…"'
        return [f"Status page: shown under a generic name (publish it: {hint})"]
    out = [f"Status page: published as “{row.public_title or row.title}”"]
    for u in said:
        edited = f", corrected {_when(u.edited_at, tz)}" if u.edited_at else ""
        out.append(f"  {u.number}. {_when(u.ts, tz)} {u.status}: {u.text} ({u.author}{edited})")
    return out


@app.command("postmortem")
def postmortem_cmd(
    incident_id: int,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file.")] = None,
    config: ConfigOption = None,
) -> None:
    """A Markdown post-mortem draft from the incident's timeline."""
    with _acting(config, create=False) as runtime, runtime.sessions() as session:
        text = postmortem.build(session, runtime.config, incident_id, runtime.clock.now())
    if output is None:
        typer.echo(text)
        return
    output.write_text(text, encoding="utf-8")
    console.print(
        f"post-mortem draft of incident {incident_id} written to {output}", markup=False, highlight=False
    )


def _secs(value: float | None) -> str:
    return show_span(value)


@report_app.command("deploys")
def report_deploys(
    since: Annotated[str, typer.Option("--since", help="How far back: 30d, 12w, 24h.")] = "30d",
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """DORA figures per service: deploy frequency, lead time, change failure rate, time to restore."""
    from opsbook.deploys.cli import report_deploys as run_report  # the deploys domain, only when asked

    run_report(since, as_json, config)


@report_app.command("sla")
def report_sla(
    month: Annotated[str | None, typer.Option("--month", help="YYYY-MM (default: this month).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="md (Markdown) or csv.")] = "md",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file.")] = None,
    config: ConfigOption = None,
) -> None:
    """Per service over a month: uptime, downtime minutes, incidents, whether the SLO target was met."""
    from opsbook.slo.cli import report_sla as run_report  # the slo domain, only when asked

    if fmt not in ("md", "csv"):
        raise fail(f"--format: {fmt!r} is neither md nor csv")
    run_report(month, "csv" if fmt == "csv" else "md", output, config)


@report_app.command("incidents")
def report_incidents(
    since: Annotated[str, typer.Option("--since", help="How far back (30d, 12w) or since when.")] = "30d",
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """MTTD, MTTA and MTTR by severity and service, SLA breaches and pages per person."""
    runtime = runtime_or_exit(config, create=False)
    now = runtime.clock.now()
    try:
        start = parse_since(since, runtime, "--since")
        with runtime.sessions() as session:
            found = report.incident_report(session, start, now)
    finally:
        runtime.close()
    if as_json:
        typer.echo(json.dumps(found.as_dict(), indent=2))
        return
    tz = runtime.config.timezone
    console.print(
        f"Incidents opened {_when(found.since, tz)} – {_when(found.until, tz)}: "
        f"{found.total.count}, MTTD {_secs(found.total.mttd_s)}, MTTA {_secs(found.total.mtta_s)} "
        f"({found.total.never_acknowledged} never acknowledged), MTTR {_secs(found.total.mttr_s)}, "
        f"SLA breaches {found.total.breaches}",
        markup=False,
        highlight=False,
    )
    for title, groups in (("By severity", found.by_severity), ("By service", found.by_service)):
        table = Table("", "Incidents", "Open", "MTTA", "Never acked", "MTTR", "SLA breaches", title=title)
        for g in groups:
            table.add_row(g.key, str(g.count), str(g.open), _secs(g.mtta_s), str(g.never_acknowledged),
                          _secs(g.mttr_s), str(g.breaches))
        console.print(table)
    if found.breaches:
        console.print("SLA breaches:", markup=False)
        for b in found.breaches:
            console.print(f"  #{b['id']} [{b['severity']}] {b['title']}", markup=False, highlight=False)
    table = Table("Person", "Pages", title="Pages per person")
    for user, n in found.pages.items():
        table.add_row(user, str(n))
    console.print(table)
