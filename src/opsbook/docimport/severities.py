"""Severity levels, their response times and routing, and the channels messages go to.

"P0 (Critical): Production down" defines a severity word (read elsewhere as P0); "P1: 15 minutes",
"P0: Immediate (5 minutes)", "P3: Next business day" and tables of level / response become incident SLAs;
"Page within 15 minutes", "Email within 1 hour", "No immediate response" also say how the severity is
routed (page, notify, log). "Page (immediate): PagerDuty → SMS + phone call", "Notify: Email + Slack"
name each action's channels; "#incidents Slack channel" and e-mail addresses become channels too, each an
Apprise URL in a `${VARIABLE}` to fill in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from opsbook.docimport.model import Channel, Draft, Route, Sla
from opsbook.docimport.statements import Statement
from opsbook.docimport.words import DEFAULT_GLOSSARY, duration_text, env_name, seconds, severities, slug
from opsbook.rules.severity import Severity

_WORDS = "|".join(
    sorted(
        {
            *DEFAULT_GLOSSARY,
            "urgent",
            "emergency",
            "severe",
            "normal",
            "cosmetic",
            "trivial",
            "blocker",
            "sev",
        },
        key=len,
        reverse=True,
    )
)
_DEFINES = [
    re.compile(rf"\b(?:P|SEV[- ]?)([0-4])\b\s*[(:\-–—=]+\s*\(?({_WORDS})\b", re.I),
    re.compile(rf"\b({_WORDS})\b\s*\(\s*P([0-4])\s*\)", re.I),
]
_ACK_SENTENCE = re.compile(
    r"\backnowledg\w*|\b(respond\w*|response|reply|ack(ed)?)\s+(within|in|by)\b|\back\s+\d"
    r"|\bresponse times?\s*(is|are|:)",
    re.I,
)
_RESPONSE_CONTEXT = re.compile(r"respon|sla\b|acknowledg|\back\b|reaction|time to|within|immediate", re.I)
_CHANNELS: dict[str, tuple[re.Pattern[str], str]] = {
    "pagerduty": (re.compile(r"pager ?duty", re.I), "pagerduty://INTEGRATION_KEY@ROUTING_KEY"),
    "opsgenie": (re.compile(r"ops ?genie", re.I), "opsgenie://API_KEY"),
    "slack": (re.compile(r"\bslack\b", re.I), "slack://TOKEN_A/TOKEN_B/TOKEN_C/#CHANNEL"),
    "teams": (re.compile(r"\b(ms )?teams\b", re.I), "msteams://TOKEN_A/TOKEN_B/TOKEN_C"),
    "discord": (re.compile(r"\bdiscord\b", re.I), "discord://WEBHOOK_ID/WEBHOOK_TOKEN"),
    "telegram": (re.compile(r"\btelegram\b", re.I), "tgram://BOT_TOKEN/CHAT_ID"),
    "email": (re.compile(r"\be-?mail\b", re.I), "mailtos://USER:PASSWORD@SMTP_HOST?to=ADDRESS"),
    "sms": (re.compile(r"\bsms\b|text message", re.I), "an Apprise SMS URL, e.g. twilio://SID:TOKEN@FROM/TO"),
    "webhook": (re.compile(r"\bwebhook\b", re.I), "json://HOST/PATH"),
}
_ACTION = re.compile(r"^\s*(page|paging|pages|notify|notification|notifications|log|logged|log only)\b", re.I)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_SLACK_CHANNEL = re.compile(
    r"(?<![\w&])#([a-z0-9][\w-]{1,40})\b[^.]*?\bslack\b|\bslack\b[^.]*?(?<![\w&])#([a-z0-9][\w-]{1,40})", re.I
)


def glossary(statements: list[Statement], draft: Draft) -> None:
    """Severity words the document defines ('P0 (Critical)', 'Critical (P1)')."""
    for index, statement in enumerate(statements):
        for text in (statement.label, statement.text, statement.context):
            for pattern in _DEFINES:
                for match in pattern.finditer(text):
                    level, word = (
                        (match.group(1), match.group(2))
                        if match.group(1).isdigit()
                        else (match.group(2), match.group(1))
                    )
                    if word.lower() != "sev":
                        draft.glossary.setdefault(word.lower(), Severity(f"P{level}"))
                        if statement.kind in ("item", "row", "text") and text is not statement.context:
                            draft.mark(
                                index,
                                statement,
                                "mapped",
                                f"defines {word} as P{level} (read in rules and tables)",
                            )
    draft.defined = set(draft.glossary)
    for word, sev in DEFAULT_GLOSSARY.items():
        draft.glossary.setdefault(word, sev)


def recognise(statements: list[Statement], draft: Draft) -> None:
    for index, statement in enumerate(statements):
        if statement.kind in ("item", "text", "row", "line"):
            _action_channels(index, statement, draft)
    for index, statement in enumerate(statements):
        if statement.kind in ("item", "text", "row", "line"):
            _response(index, statement, draft)
    for index, statement in enumerate(statements):
        if statement.kind in ("item", "text", "row", "line", "comment"):
            _named_channels(index, statement, draft)
    _routes_from_actions(draft)


@dataclass(frozen=True)
class _Said:
    """Severities a statement speaks of, the words of their response time, the words of their routing."""

    levels: list[Severity]
    response: str
    routing: str
    around: str


def _levels_and_response(statement: Statement) -> list[_Said]:
    around = statement.context + " " + " ".join(statement.section)
    if statement.kind == "row":
        if not statement.cells:
            return []
        levels = severities(statement.cells[0])
        response = next(
            (
                cell
                for title, cell in zip(statement.header, statement.cells, strict=False)
                if re.search(r"respon|sla|ack|reaction|time|target", title, re.I)
            ),
            "",
        )
        return [_Said(levels, response, " ".join(statement.cells[1:]), " ".join(statement.header))]
    label_levels = severities(statement.label)
    if label_levels:
        return [_Said(label_levels, statement.text, statement.text, around)]
    match = re.match(
        r"^\s*((?:(?:P|SEV[- ]?)[0-4]\s*(?:[/,&+-]|and|or|to)?\s*)+)\s*[(:\-–—]\s*(.+)$", statement.full, re.I
    )
    if match:
        return [_Said(severities(match.group(1)), match.group(2), match.group(2), around)]
    if severities(statement.text) and (
        _ACK_SENTENCE.search(statement.text)
        or re.search(r"\bsla|respon|acknowledg|\back\b", statement.label, re.I)
    ):
        return _segments(statement.text)
    heading = severities(statement.heading())
    if len(heading) == 1 and re.search(r"respon|acknowledg|\back\b|sla\b", statement.label, re.I):
        # "### SEV-1 — Critical" over "Response: 15 minutes"
        return [_Said(heading, statement.text, statement.text, f"{statement.label} {around}")]
    return []


def _segments(text: str) -> list[_Said]:
    """'P0 within 5 minutes and P1 within 10 minutes': each severity with the words up to the next one;
    severities with no words of their own ('P0 and P1 within 5 minutes') share the next words."""
    marks = list(re.finditer(r"\b(?:P|SEV[- ]?)([0-4])\b", text, re.I))
    out: list[_Said] = []
    waiting: list[Severity] = []
    for n, mark in enumerate(marks):
        end = marks[n + 1].start() if n + 1 < len(marks) else len(text)
        words = text[mark.end() : end]
        waiting.append(Severity(f"P{mark.group(1)}"))
        if _sla_value(words)[0] is not False:
            out.append(_Said(waiting, words, words, text))
            waiting = []
    return out


def _response(index: int, statement: Statement, draft: Draft) -> None:
    said: list[str] = []
    for part in _levels_and_response(statement):
        if part.levels:
            said += _one_response(part, statement, draft)
    if said:
        draft.mark(index, statement, "mapped", "; ".join(said))


def _one_response(part: _Said, statement: Statement, draft: Draft) -> list[str]:
    """The response time and the routing a statement gives its severities (either may be missing)."""
    said = []
    value, note = _sla_value(part.response) if part.response.strip() else (False, "")
    in_context = statement.kind == "row" or _RESPONSE_CONTEXT.search(" ".join((part.around, part.response)))
    if value is not False and in_context:
        for level in part.levels:
            sla = Sla(
                statement,
                [note] if note else [],
                severity=level,
                value=value if isinstance(value, str) else None,
            )
            draft.slas.setdefault(level, sla)
            said.append(
                f"{level.value} acknowledged within {value}" if value else f"{level.value}: no deadline"
            )
    if value is False and part.response.strip() and statement.kind == "row":
        said.append(f"response time '{part.response}' not understood")
    action = _action(part.routing)
    if action is None:
        return said
    hours = bool(re.search(r"business (hours|day)|working hours", part.routing, re.I))
    kinds = _channel_kinds(part.routing) if action != "log" else []
    for level in part.levels:
        route = Route(statement, severity=level, action=action, business_hours_only=hours)
        route.channels = _channels_in(draft, kinds, part.routing, statement)
        draft.routes.setdefault(level, route)
        said.append(f"{level.value} routed: {action}")
    return said


def _sla_value(text: str) -> tuple[str | bool | None, str]:
    """A response time: ('5m', note), ('next business day', ''), (None, '') for none, (False, '') unread."""
    lowered = text.lower()
    if re.search(r"next business day|next working day|\bnbd\b", lowered):
        return "next business day", ""
    found = seconds(text)
    if found is not None:
        if found < 60:
            return False, ""  # "1200 ms" is a latency, not a time to acknowledge
        shown = duration_text(found)
        return (shown, "") if shown else (False, "")
    if re.search(
        r"backlog|no (immediate )?(response|sla|deadline)|best[- ]effort|none|when possible|"
        r"planning|no alert|log only",
        lowered,
    ):
        return None, ""
    if re.search(r"immediate|asap|right away|at once", lowered):
        return "5m", "'immediately' read as 5 minutes (the document gives no number)"
    return False, ""


def _action(text: str) -> str | None:
    lowered = text.lower()
    if re.search(r"no (immediate )?(response|alert|page)|backlog|log only|just in logs|\blog\b", lowered):
        return "log"
    if re.search(r"\bpag(e|ed|es|ing)\b|phone call|wake|pager ?duty|ops ?genie", lowered):
        return "page"
    if re.search(r"e-?mail|slack|notif|message|ticket|teams|chat", lowered):
        return "notify"
    return None


def _channels_in(draft: Draft, kinds: list[str], text: str, statement: Statement) -> list[str]:
    """The channels of the kinds a text names; Slack with a #channel named is that channel."""
    named = _SLACK_CHANNEL.search(text)
    names = []
    for kind in kinds:
        suffix = (named.group(1) or named.group(2)) if kind == "slack" and named else ""
        names.append(_channel(draft, kind, statement, suffix).name)
    return names


def _channel_kinds(text: str) -> list[str]:
    before_arrow = re.split(r"→|->|=>", text)[0]
    return [kind for kind, (pattern, _) in _CHANNELS.items() if pattern.search(before_arrow)]


def _channel(draft: Draft, kind: str, statement: Statement, suffix: str = "", address: str = "") -> Channel:
    name = slug(f"{kind}-{suffix}" if suffix else kind, kind)
    known = draft.channels.get(name)
    if known is not None:
        return known
    hint = _CHANNELS[kind][1]
    if suffix and kind == "slack":
        hint = hint.replace("#CHANNEL", f"#{suffix}")
    if address:
        hint = hint.replace("ADDRESS", address)
    url = draft.variable(f"{env_name(name)}_URL", f"Apprise URL: {hint}", statement)
    channel = Channel(statement, name=name, url=url, kind=kind)
    draft.channels[name] = channel
    return channel


def _action_channels(index: int, statement: Statement, draft: Draft) -> None:
    if statement.kind == "row":
        return
    head = statement.label or statement.text
    match = _ACTION.match(head)
    if not match or not (statement.label or re.match(r"^\s*\w+(\s+only)?\s*[(:]", statement.text)):
        return
    word = match.group(1).lower()
    action = "page" if word.startswith("pag") else "notify" if word.startswith("notif") else "log"
    rest = statement.text if statement.label else statement.text[match.end() :]
    if severities(statement.full):
        return  # "P1: page within 15 minutes" is a severity's route, read with the response times
    kinds = _channel_kinds(rest) if action != "log" else []
    if action != "log" and not kinds:
        return
    names = _channels_in(draft, kinds, rest, statement)
    draft.action_channels.setdefault(action, names)
    shown = ", ".join(names) if names else "nothing sent"
    note = f"{action}: {shown}"
    draft.mark(index, statement, "mapped", note)


def _named_channels(index: int, statement: Statement, draft: Draft) -> None:
    text = statement.full
    slack = _SLACK_CHANNEL.search(text)
    if slack:
        channel = _channel(draft, "slack", statement, slack.group(1) or slack.group(2))
        if (
            re.search(r"\b(post|announce|update|share|status)\b", text, re.I)
            and channel.name not in draft.update_channels
        ):
            draft.update_channels.append(channel.name)
        draft.mark(index, statement, "mapped", f"channel {channel.name}")
        return
    for address in _EMAIL.findall(text):
        if re.search(r"example\.|@your|noreply", address, re.I):
            continue
        if re.search(r"alert|notif|page|contact|email|mail|report|escalat", text, re.I):
            channel = _channel(draft, "email", statement, address.split("@")[0], address)
            draft.mark(index, statement, "mapped", f"channel {channel.name}")


def _routes_from_actions(draft: Draft) -> None:
    """Severities the document routes by action only ('page' / 'notify') get that action's channels; with
    no severity routing at all, opsbook's default actions per severity carry the document's channels."""
    for route in draft.routes.values():
        if route.action != "log" and not route.channels:
            route.channels = list(draft.action_channels.get(route.action, []))
    if draft.routes or not draft.action_channels:
        return
    defaults = {
        Severity.P0: "page",
        Severity.P1: "page",
        Severity.P2: "notify",
        Severity.P3: "notify",
        Severity.P4: "log",
    }
    for level, action in defaults.items():
        channels = draft.action_channels.get(action)
        if channels is None and action != "log":
            continue
        draft.routes[level] = Route(
            None,
            [
                f"the document names the channels of '{action}' but not which "
                f"severities {action}: opsbook's default for {level.value}"
            ],
            severity=level,
            action=action,
            channels=list(channels or []),
            business_hours_only=level == Severity.P3,
        )
