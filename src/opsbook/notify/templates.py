"""Message templates: Jinja2 subject and body for every kind of message (notify.messages) and for
grouped messages.

Each kind has a default below; `notifications.templates.<kind>` in opsbook.yaml may replace its subject,
its body or both. Templates are checked when the config loads; if a custom one still fails while
rendering, the default is used and the failure noted, because a page must go out whatever the template.

Variables (all optional; missing ones render empty):
- firing / resolved: `service`, `check`, `severity`, `summary`, `rule`, `value`, `threshold`, `since`
  (datetime), `resolved_at` (datetime), `runbook`, `runbook_url`, `runbook_steps` (its first steps),
  `detail` (the check's last message), `link` (into opsbook), `labels` (dict), `alert_id`,
  `recent_deploy` (the service's deploy in the last hour and its rollback command; also in incident)
  firing and incident also `affected` (the other services whose alerts it causes: they depend on it)
- incident (a page): `incident_id`, `title`, `status`, `severity`, `summary`, `service`, `since`,
  `user`, `link` (the incident's page), `ack_link`, `ack_command`, `runbooks` (names), `runbook_links`
  (each `name`, `url`, `command`, `steps`: the first runbook's first steps), `escalated`, `escalation`
  (`level` and `levels` from 1, `round`, `paged_before`, `reason`, `reminder`, `acknowledged_by`)
- update / sla: `incident_id`, `title`, `where` (service or services), `others` (further services),
  `status`, `severity`, `impact`, `eta`, `customer_facing`, `updates` (newest first, each `ts`, `text`);
  sla also `deadline`
- handoff: `name`, `schedule`, `zone`, `start`, `until`, `previous` / `next` (each `name`, `start`,
  `end`, or none), `incidents` (each `id`, `severity`, `status`, `service`, `title`, `since`),
  `more_incidents`, `notes` (each `author`, `at`, `text`)
- gap: `schedule`, `zone`, `description`, `shown_start`, `end`, `length` (`1 d 6 h`), `hours` (a number),
  `began_long_ago`, `may_last_longer`, `lookback_days`, `days_ahead`, `users` (the schedule's people)
- secret: `secret`, `owner`, `state` (due soon, overdue, unknown), `severity`, `protects`, `every`,
  `description`, `last_rotated`, `due_at` (datetimes or none), `rotation` (its procedure)
- chore: `chore`, `due_id` (for `opsbook chore done|skip`), `assignee`, `procedure`, `severity`,
  `due_at`, `deadline` (datetimes), `link` (the chores page)
- status_confirm (to a status page subscriber): `page`, `kind` (email, webhook), `services` (none: all),
  `confirm_link`, `within` (`2 d`), `change` (an existing subscription changes its services)
- status_incident / status_maintenance (to subscribers; public text only): `page`, `page_link`,
  `unsubscribe_link`, `services`, `title`; status_incident also `event` (opened, updated, resolved),
  `status`, `updates` (the new public ones, oldest first, each `ts`, `status`, `text`); status_maintenance
  also `description`, `starts_at`, `ends_at`, `calendar_link` (the maintenance .ics)
- test: `channel`, `now`
- group: `service`, `severity` (the most urgent), `kind`, `count`, `items` (each with `subject`, `body`)
- always: `opsbook` (the config title), `base_url` (without a trailing /), `timezone`, `command` (makes a
  command line as a responder runs opsbook, from `server.cli`: `{{ command("chore", "done", due_id) }}`
  is `opsbook chore done 7`, each value one shell word, `-c FILE` added where the config needs it)
Filters: `when` formats a datetime in the team's time zone (`{{ since|when }}`, or with a strftime format
and a zone: `{{ start|when("%a %H:%M", zone) }}`), `local_date` is its date there, `ago` a duration
(`1 h 10 min`), `num` a measured value without float noise (`3`, not `3.0`), `shell` a value as one word
of a command line people paste into a shell (`{{ rotation|shell }}`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from opsbook.notify.config import Templates
from opsbook.runbooks.commands import opsbook_command, shell_word
from opsbook.timefmt import show_span

if TYPE_CHECKING:
    from jinja2 import Template
    from jinja2.sandbox import SandboxedEnvironment

    from opsbook.config.schema import ServerSettings

SUBJECT_MAX = 250

UPDATE_BODY = """{{ where }}: {{ title }}
{% if others %}Also affects: {{ others|join(", ") }}
{% endif %}Status:   {{ status|capitalize }}
Severity: {{ severity }}
Impact:   {{ impact or "being assessed" }}
ETA:      {{ eta or "unknown" }}
Customer-facing: {{ "yes" if customer_facing else "no" }}
{% if updates %}
Updates:
{% set several_days = (updates|map(attribute="ts")|map("local_date")|unique|list|length) > 1 %}
{%- for update in updates %}- {{ update.ts|when("%Y-%m-%d %H:%M %Z" if several_days else "%H:%M %Z") }}  \
{{ update.text }}
{% endfor %}{% endif %}
Incident: {{ base_url }}/ui/incidents/{{ incident_id }}"""
"""The incident update in the runbooks' communication format (also the body of an SLA breach)."""
LONG = "%Y-%m-%d %H:%M:%S %Z"

DEFAULTS: dict[str, tuple[str, str]] = {
    "firing": (
        "[{{ severity }}] FIRING: {{ service }}{% if check %}/{{ check }}{% endif %}: {{ summary }}",
        """{{ summary }}

Service:  {{ service }}
{% if check %}Check:    {{ check }}
{% endif %}Severity: {{ severity }}
{% if value is defined and value is not none %}Value:    {{ value|num }}
{%- if threshold is defined and threshold is not none %} (threshold {{ threshold|num }}){% endif %}
{% endif %}{% if since %}Since:    {{ since|when }}
{% endif %}{% if detail %}Last:     {{ detail }}
{% endif %}{% if affected %}Affected: {{ affected|length }} service{% if affected|length != 1 %}s{% endif %} \
affected, not paged on their own: {{ affected|join(", ") }}
{% endif %}{% if link %}Details:  {{ link }}
{% endif %}{% if recent_deploy %}Deploy:   {{ recent_deploy }}
{% endif %}{% if runbook %}
Runbook:  {{ runbook }}{% if runbook_url and runbook_url != runbook %} ({{ runbook_url }}){% endif %}
{% for step in runbook_steps or [] %}  {{ loop.index }}. {{ step }}
{% endfor %}{% endif %}""",
    ),
    "resolved": (
        "[{{ severity }}] RESOLVED: {{ service }}{% if check %}/{{ check }}{% endif %}: {{ summary }}",
        """Resolved: {{ summary }}

Service:  {{ service }}
{% if check %}Check:    {{ check }}
{% endif %}Severity: {{ severity }}
{% if since %}Since:    {{ since|when }}
{% endif %}{% if resolved_at %}Resolved: {{ resolved_at|when }}
{%- if since %} (after {{ (resolved_at - since)|ago }}){% endif %}
{% endif %}{% if link %}Details:  {{ link }}
{% endif %}""",
    ),
    "incident": (
        "[{{ severity }}] {% if escalated %}ESCALATED to level {{ escalation.level }}: "
        "{% elif escalation and escalation.reminder %}REMINDER: {% endif %}"
        "Incident{% if incident_id %} #{{ incident_id }}{% endif %} {{ status }}: {{ title }}",
        """{% if escalated %}Escalation, level {{ escalation.level }} of {{ escalation.levels }}\
{% if escalation.round > 1 %} (round {{ escalation.round }}){% endif %}\
{% if escalation.reason %}: {{ escalation.reason }}{% endif %}.
Paged before, not acknowledged: {{ escalation.paged_before|join(", ") or "nobody could be reached" }}.

{% elif escalation and escalation.reminder %}Reminder {{ escalation.reminder }}: acknowledged\
{% if escalation.acknowledged_by %} by {{ escalation.acknowledged_by }}{% endif %}, still not resolved.

{% endif %}{{ title }}
{% if summary %}
{{ summary }}
{% endif %}
Status:   {{ status }}
Severity: {{ severity }}
{% if service %}Service:  {{ service }}
{% endif %}{% if affected %}Affected: {{ affected|length }} service{% if affected|length != 1 %}s{% endif %} \
affected, not paged on their own: {{ affected|join(", ") }}
{% endif %}{% if since %}Since:    {{ since|when }}
{% endif %}{% if link %}Incident: {{ link }}
{% endif %}{% if recent_deploy %}Deploy:   {{ recent_deploy }}
{% endif %}{% if ack_link %}
Acknowledge: {{ ack_link }}
{% if ack_command %}  or: {{ ack_command }}
{% endif %}{% endif %}{% for rb in runbook_links or [] %}
Runbook: {{ rb.name }}{% if rb.url and rb.url != rb.name %} ({{ rb.url }}){% endif %}
{% for step in rb.steps %}  {{ loop.index }}. {{ step }}
{% endfor %}{% if rb.command %}  Run it: {{ rb.command }}
{% endif %}{% endfor %}""",
    ),
    "update": (
        "[{{ severity }}] Incident #{{ incident_id }} {{ where }}: {{ title }} — {{ status|capitalize }}",
        UPDATE_BODY,
    ),
    "sla": ("[{{ severity }}] SLA missed: Incident #{{ incident_id }} {{ where }}: {{ title }}", UPDATE_BODY),
    "handoff": (
        '{{ opsbook }}: you are on call for {{ schedule }} until {{ until|when("%a %Y-%m-%d %H:%M", zone) }}'
        " ({{ zone }})",
        """{% set label = "%a %Y-%m-%d %H:%M" -%}
{{ name }}, you are on call for {{ schedule }} from {{ start|when(label, zone) }} until \
{{ until|when(label, zone) }} ({{ zone }}).
{% if previous and previous.end == start %}Handing over: {{ previous.name }} (on call since \
{{ previous.start|when(label, zone) }}).
{% elif previous %}Nobody was on call before you since {{ previous.end|when(label, zone) }} \
(last: {{ previous.name }}).
{% else %}Nobody was on call before you.
{% endif %}{% if next and next.start == until %}Next: {{ next.name }} takes over at \
{{ until|when(label, zone) }}.
{% elif next %}Next: nobody until {{ next.start|when(label, zone) }} ({{ next.name }}).
{% else %}Next: nobody is scheduled after you.
{% endif %}
{% if incidents %}Open incidents ({{ incidents|length }}{{ "+" if more_incidents }}):
{% for i in incidents %}  #{{ i.id }} {{ i.severity }} {{ i.status }}\
{% if i.service %} [{{ i.service }}]{% endif %}: {{ i.title }} (since {{ i.since|when(label, zone) }})
{% endfor %}{% else %}Open incidents: none.
{% endif %}
{% if notes %}Handoff notes:
{% for note in notes %}  From {{ note.author }}, {{ note.at|when(label, zone) }}:
{% for line in note.text.splitlines() %}{% if line %}    {{ line }}{% endif %}
{% endfor %}{% endfor %}{% else %}Handoff notes: none.
{% endif %}
On-call: {{ base_url }}/ui/oncall
{% if incidents %}Incidents: {{ base_url }}/ui/incidents
{% endif %}""",
    ),
    "gap": (
        '{{ opsbook }}: on-call gap on {{ schedule }} from {{ shown_start|when("%a %Y-%m-%d %H:%M", zone) }}'
        " ({{ zone }})",
        """Warning: {{ description }}.
{% if began_long_ago %}Nobody has been on call on {{ schedule }} for over {{ lookback_days }} days.
{% elif may_last_longer %}That is {{ length }} without anyone to page, or more: the schedule has \
nobody after that either, as far as opsbook looks ahead ({{ days_ahead }} days).
{% else %}That is {{ length }} without anyone to page.
{% endif %}
Fill it with an override{% if users %} (one of {{ users|join(", ") }}){% endif %}, e.g.
  {{ command("oncall", "override", "add", schedule, users[0] if users else "USER", \
"--from", shown_start|when("%Y-%m-%dT%H:%M", zone), "--to", end|when("%Y-%m-%dT%H:%M", zone)) }}""",
    ),
    "secret": (
        "{{ opsbook }}: secret {{ secret }} rotation {{ state }}",
        """{{ owner }}, the secret {{ secret }}{% if protects %} ({{ protects }}){% endif %} is yours to \
rotate \
every {{ every }}: {{ description }}.
{% if due_at %}Rotation due: {{ due_at|when }}.
{% endif %}{% if rotation %}Rotate it with: {{ command("runbook", "run", rotation) }}
{% endif %}Afterwards, if no runbook run recorded it: {{ command("secret", "rotated", secret) }}""",
    ),
    "chore": (
        "{{ opsbook }}: chore {{ chore }} is due",
        """{{ assignee }}, the chore {{ chore }} is yours: do it by {{ deadline|when }}.
Run it with: {{ command("runbook", "run", procedure) }}
{% if link %}{{ link }}
{% endif %}Done another way: {{ command("chore", "done", due_id) }}
Not needed this time: {{ command("chore", "skip", due_id, "--reason", "not needed this time") }}
""",
    ),
    "status_confirm": (
        "{{ page }}: confirm your subscription",
        """Someone, we hope you, asked {% if change %}to change the status updates of {{ page }} \
sent{% else %}for the status updates of {{ page }}{% endif %} to this \
{{ "address" if kind == "email" else "webhook" }}, \
for {{ services|join(", ") if services else "every service" }}.

Confirm within {{ within }}: {{ confirm_link }}

If it was not you, ignore this message: nothing is sent without a confirmation.
""",
    ),
    "status_incident": (
        "[{{ page }}] {{ 'Resolved' if event == 'resolved' else status|capitalize }}: {{ title }}",
        """{{ title }}
Affects: {{ services|join(", ") }}
Status:  {{ "Resolved" if event == "resolved" else status|capitalize }}
{% for update in updates %}
{{ update.ts|when("%Y-%m-%d %H:%M %Z") }} ({{ update.status|capitalize }}): {{ update.text }}
{% endfor %}{% if event == "resolved" %}
This incident has been resolved.
{% endif %}
Status page: {{ page_link }}
Unsubscribe: {{ unsubscribe_link }}
""",
    ),
    "status_maintenance": (
        "[{{ page }}] Scheduled maintenance: {{ title }}",
        """{{ title }}
From:    {{ starts_at|when("%a %Y-%m-%d %H:%M %Z") }}
Until:   {{ ends_at|when("%a %Y-%m-%d %H:%M %Z") }}
Affects: {{ services|join(", ") }}
{% if description %}
{{ description }}
{% endif %}
Status page: {{ page_link }}
Calendar:    {{ calendar_link }}
Unsubscribe: {{ unsubscribe_link }}
""",
    ),
    "test": (
        "{{ opsbook }}: test message for channel {{ channel }}",
        """This is a test message from {{ opsbook }}
{%- if base_url %} ({{ base_url }}){% endif %}, sent {{ now|when }}.
If you can read it, the channel {{ channel }} works.
""",
    ),
    "group": (
        "[{{ severity }}] {{ count }} alerts {{ kind }} on {{ service }}",
        """{% for item in items %}{{ loop.index }}. {{ item.subject }}
{{ item.body|indent(3, first=true) }}
{% endfor %}""",
    ),
}
KINDS = tuple(DEFAULTS)


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    body: str


def _when(value: Any, tz: str = "UTC", fmt: str = LONG) -> str:
    if isinstance(value, datetime):
        local = value.astimezone(ZoneInfo(tz))
        return local.strftime(fmt)
    return "" if value is None else str(value)


def _ago(value: Any) -> str:
    """A length of time as people read it: `1 h 10 min` (opsbook.timefmt.show_span)."""
    if not isinstance(value, timedelta):
        return "" if value is None else str(value)
    return show_span(value)


def _num(value: Any) -> str:
    """A measured value without float noise: 3.0 -> `3`, 912.5 -> `912.5`."""
    return f"{value:g}" if isinstance(value, int | float) and not isinstance(value, bool) else str(value)


@lru_cache(maxsize=32)
def _environment(tz: str) -> SandboxedEnvironment:
    # Jinja2 is loaded by the first message rendered or template checked, not with this module: a CLI
    # command that changes an incident imports the outbox and these templates but mostly renders nothing
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment(autoescape=False, trim_blocks=False, keep_trailing_newline=False)
    env.filters["when"] = lambda value, fmt=None, zone=None: _when(value, zone or tz, fmt or LONG)
    env.filters["local_date"] = lambda value: value.astimezone(ZoneInfo(tz)).date()
    env.filters["ago"] = _ago
    env.filters["shell"] = lambda value: shell_word(str(value))
    env.filters["num"] = _num
    return env


@lru_cache(maxsize=512)
def _template(tz: str, source: str) -> Template:
    """`source` compiled once per zone (compiling costs some 3 ms; a status page's subscribers are told
    with the same two templates thousands of times)."""
    return _environment(tz).from_string(source)


@cache
def _check_environment() -> SandboxedEnvironment:
    return _environment("UTC")


def check_template(text: str) -> str | None:
    """None if `text` is a valid Jinja2 template, else the problem with its line."""
    from jinja2 import TemplateSyntaxError

    try:
        _check_environment().parse(text)
    except TemplateSyntaxError as exc:
        return f"template line {exc.lineno}: {exc.message}"
    return None


def render(
    kind: str,
    context: Mapping[str, Any],
    templates: Templates | None = None,
    *,
    timezone: str = "UTC",
    opsbook: str = "opsbook",
    base_url: str = "",
    server: ServerSettings | None = None,
) -> RenderedMessage:
    """Render the subject and body of a `kind` message (one of KINDS); `server` says how a responder runs
    opsbook, for the commands the message suggests."""
    if kind not in DEFAULTS:
        raise ValueError(f"unknown message kind {kind!r}; one of {', '.join(KINDS)}")
    values = {
        "opsbook": opsbook, "base_url": base_url.rstrip("/"), "timezone": timezone, "kind": kind,
        "command": lambda *args: opsbook_command(server, *args), **context,
    }
    default_subject, default_body = DEFAULTS[kind]
    override = templates.override(kind) if templates else None
    notes: list[str] = []

    def one(custom: str | None, default: str, what: str) -> str:
        if custom is not None:
            try:
                return _template(timezone, custom).render(values)
            except Exception as exc:  # any failure of a custom template: the message must still go out
                notes.append(f"(the custom {kind} {what} template failed: {exc}; the default was used)")
        return _template(timezone, default).render(values)

    subject = " ".join(one(override.subject if override else None, default_subject, "subject").split())
    body = one(override.body if override else None, default_body, "body").strip()
    if notes:
        body = body + "\n\n" + "\n".join(notes)
    if len(subject) > SUBJECT_MAX:
        subject = subject[: SUBJECT_MAX - 1] + "…"
    return RenderedMessage(subject=subject, body=body)
