"""Code blocks into steps: shell scripts split at their comments, SQL, checklists, reference snippets.

A shell block whose commands are separated by comment lines becomes one step per comment, titled by it;
a comment with nothing under it is a manual step; a plainly-SQL statement inside a shell block is an SQL
step. Numbered comments (`# 1. Announce the deploy`, `# Step 2: Wait`) each open a step of their own, also
when no command stands between them (unnumbered comment lines under one are its notes). Unlabelled
blocks are read by what they look like: checklist, numbered flow, commands, or text.
"""

from __future__ import annotations

import contextlib
import json
import re
import shlex
from dataclasses import dataclass, field
from dataclasses import replace as dc_replace

from opsbook.config.types import parse_duration
from opsbook.runbooks import destructive, placeholders
from opsbook.runbooks.document import Step
from opsbook.runbooks.text import shorten

SHELL_LANGS = frozenset(
    {
        "bash",
        "sh",
        "shell",
        "zsh",
        "ksh",
        "console",
        "shell-session",
        "shellsession",
        "shellscript",
        "terminal",
        "posix",
    }
)
CONSOLE_LANGS = frozenset({"console", "shell-session", "shellsession", "terminal"})
SQL_LANGS = frozenset({"sql", "postgresql", "postgres", "psql", "pgsql", "plpgsql", "mysql", "sqlite"})

CHECKBOX = re.compile(r"^\s*(?:[-*+]\s+)?(?:\[(?P<mark>[ xX])\]|(?P<glyph>[☐☑☒✅✔✓□■⬜◻]))\s+(?P<text>\S.*)$")
CHECKED_GLYPHS = frozenset("☑☒✅✔✓■")
_NUMBERED = re.compile(r"^\s*\d+[.)]\s+(?P<text>\S.*)$")
_NUMBERED_COMMENT = re.compile(r"^(?:step\s+)?\d+\s*[.):]\s*\S", re.I)
_EXPECT = re.compile(r"^(?:should\b|expect|expected\b|output\b|result\b|returns?\b|e\.g\.|→|=>|->)", re.I)
_HEREDOC = re.compile(r"<<-?\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\1")
_SQL_START = re.compile(
    r"^(?:SELECT|VACUUM|ANALY[SZ]E|REINDEX|CLUSTER|CHECKPOINT|INSERT\s+INTO|UPDATE\s+\S+\s+SET|DELETE\s+FROM|"
    r"CREATE|DROP|ALTER|TRUNCATE|GRANT|REVOKE|EXPLAIN|WITH\s+\w+\s+AS|SHOW|REFRESH\s+MATERIALIZED|"
    r"BEGIN|COMMIT|ROLLBACK|LOCK\s+TABLE|COMMENT\s+ON)\b",
    re.IGNORECASE,
)
_KNOWN = """
kubectl docker docker-compose podman curl wget aws gcloud az doctl heroku fly flyctl vercel psql pg_dump
pg_dumpall pg_restore pg_isready pg_ctl pgbench vacuumdb reindexdb createdb dropdb redis-cli mysql mysqldump
mongo mongosh sqlite3 systemctl service journalctl git ssh scp rsync sudo ls cat grep egrep tail head less df
du free top htop ps kill pkill killall cd mkdir rmdir rm cp mv ln chmod chown echo printf export unset source
helm terraform ansible ansible-playbook make npm npx yarn pnpm pip pip3 python python3 node ruby bundle go
cargo bash sh zsh tar gzip gunzip zip unzip find sed awk openssl dig nslookup ping nc netstat ss lsof uptime
watch crontab certbot nginx apachectl supervisorctl pm2 env touch date sleep test exit set timeout tee sort
uniq wc jq yq base64 xargs nohup iostat vmstat dmesg mount umount lsblk ip ifconfig traceroute mtr host
whoami hostname uname id stat file diff patch opsbook k9s stern eksctl kubectx kubens minikube kind
"""
KNOWN_COMMANDS = frozenset(_KNOWN.split())


@dataclass
class _Logical:
    text: str
    line: int
    comment: str | None = None
    blank: bool = False


@dataclass
class _Chunk:
    line: int
    comments: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    commands: list[_Logical] = field(default_factory=list)
    closed: bool = False


def parse_info(info: str) -> tuple[str, dict[str, str]]:
    """```` ```bash {name=restart timeout=60 confirm=true} ```` -> ("bash", {"name": "restart", ...})."""
    info = info.strip()
    brace = info.find("{")
    head, attr_text = (info[:brace], info[brace:]) if brace >= 0 else (info, "")
    words = head.split()
    lang = words[0].lower() if words else ""
    attrs: dict[str, str] = {}
    if attr_text:
        try:
            data = json.loads(attr_text)
            if isinstance(data, dict):
                attrs = {str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in data.items()}
        except ValueError:
            inner = attr_text.strip().removeprefix("{").removesuffix("}")
            try:
                parts = shlex.split(inner.replace(",", " "))
            except ValueError:
                parts = inner.split()
            for part in parts:
                key, sep, value = part.partition("=")
                if key:
                    attrs[key.strip()] = value.strip() if sep else "true"
    return lang, attrs


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"true", "yes", "1", "on"}


def _comment(text: str, prefix: str) -> str | None:
    stripped = text.strip()
    if stripped.startswith("#!"):
        return None
    if stripped.startswith(prefix):
        return stripped[len(prefix) :].strip().lstrip("#-").strip()
    return None


def _scan(line: str, quote: str, comment_prefix: str) -> tuple[str, bool]:
    """Quote state after `line` (starting inside `quote`), and whether the line continues with `\\`."""
    i = 0
    escaped = False
    while i < len(line):
        ch = line[i]
        if escaped:
            escaped = False
        elif ch == "\\" and quote != "'":
            escaped = True
        elif quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif line.startswith(comment_prefix, i) and (i == 0 or line[i - 1].isspace()):
            break
        i += 1
    return quote, (not quote and line.rstrip().endswith("\\"))


def logical_lines(content: str, first_line: int, comment_prefix: str) -> list[_Logical]:
    """Physical lines joined into commands (backslash continuations, open quotes, heredocs)."""
    out: list[_Logical] = []
    quote = ""
    cont = False
    heredoc: str | None = None
    current: _Logical | None = None
    for offset, raw in enumerate(content.splitlines()):
        lineno = first_line + offset
        if current is not None and (quote or cont or heredoc):
            current.text += "\n" + raw
            if heredoc:
                if raw.strip() == heredoc:
                    heredoc = None
                    current = None
                continue
            quote, cont = _scan(raw, quote, comment_prefix)
            if not (quote or cont):
                current = None
            continue
        if not raw.strip():
            out.append(_Logical(raw, lineno, blank=True))
            current = None
            continue
        comment = _comment(raw, comment_prefix)
        if comment is not None:
            out.append(_Logical(raw, lineno, comment=comment))
            current = None
            continue
        current = _Logical(raw, lineno)
        out.append(current)
        quote, cont = _scan(raw, "", comment_prefix)
        doc = _HEREDOC.search(raw) if comment_prefix == "#" else None
        if doc and not quote:
            heredoc = doc.group(2)
        if not (quote or cont or heredoc):
            current = None
    return out


def is_sql(statement: str) -> bool:
    """A statement inside a shell block that is plainly SQL: `VACUUM ANALYZE;`, `SELECT 1;`."""
    text = statement.strip()
    match = _SQL_START.match(text)
    if not match:
        return False
    keyword = match.group(0).split()[0]
    if keyword.isupper():
        return True
    parts = text.split()
    return text.endswith(";") and not (len(parts) > 1 and parts[1].startswith("-"))


def looks_like_command(line: str) -> bool:
    text = line.strip()
    if text.startswith("$ "):
        return True
    text = re.sub(r"^(?:sudo\s+)?(?:[A-Z_][A-Z0-9_]*=\S*\s+)*", "", text)
    if re.match(r"^(?:\[[A-Z][A-Z0-9_ \-]+\]|<[A-Za-z][\w\-. ]*>)(?:\s|$)", text):
        return True
    word = text.split()[0] if text.split() else ""
    return word in KNOWN_COMMANDS or word.startswith(("./", "~/", "/usr/", "/opt/", "/bin/"))


def classify_unlabelled(content: str) -> str:
    """'checklist', 'flow', 'console', 'commands' or 'text' (message templates, sample output, diagrams)."""
    lines = [line.strip() for line in content.splitlines() if line.strip()]
    if any(CHECKBOX.match(line) for line in lines):
        return "checklist"
    if any(line.startswith("$ ") for line in lines):
        return "console"
    numbered = [line for line in lines if _NUMBERED.match(line)]
    others = [line for line in lines if not _NUMBERED.match(line)]
    if len(numbered) >= 2 and not any(re.search(r"[A-Za-z0-9]{2,}", line) for line in others):
        return "flow"
    logical = [ll for ll in logical_lines(content, 0, "#") if not ll.blank and ll.comment is None]
    if not logical and _numbered_comments(content) >= 2:
        return "commands"
    if logical:
        commandish = sum(1 for ll in logical if looks_like_command(ll.text.splitlines()[0]))
        if commandish and commandish / len(logical) >= 0.6:
            return "commands"
    return "text"


def is_numbered_comment(text: str) -> bool:
    """A comment that numbers a step: `1. Announce the deploy`, `2) Wait`, `Step 3: Check health`."""
    return bool(_NUMBERED_COMMENT.match(text))


def _numbered_comments(content: str) -> int:
    """How many of the block's lines are numbered `#` comments."""
    comments = [ll.comment for ll in logical_lines(content, 0, "#") if ll.comment is not None]
    return sum(1 for comment in comments if is_numbered_comment(comment))


def _command_step(
    kind: str, title: str, commands: list[_Logical], notes: list[str], line: int, group: str, language: str
) -> Step:
    command = "\n".join(c.text for c in commands).strip("\n")
    command = _dedent(command)
    params = placeholders.find(command, "shell" if kind == "shell" else "sql")
    return Step(
        kind="shell" if kind == "shell" else "sql",
        title=title,
        command=command,
        language=language,
        notes=tuple(notes),
        group=group,
        parameters=tuple(p.name for p in params),
        destructive=destructive.reasons(command),
        line=line,
    )


def _dedent(text: str) -> str:
    lines = text.splitlines()
    indents = [len(line) - len(line.lstrip()) for line in lines if line.strip()]
    cut = min(indents) if indents else 0
    return "\n".join(line[cut:] for line in lines)


def _is_note(cur: _Chunk, text: str) -> bool:
    """Whether comment `text` belongs to chunk `cur` as a note (an expectation after its commands, or a
    further comment line above them) rather than opening a chunk of its own. A numbered comment always
    opens its own."""
    if is_numbered_comment(text):
        return False
    if cur.commands:
        return bool(_EXPECT.match(text))
    return not cur.closed


def _chunks(content: str, first_line: int, prefix: str) -> list[_Chunk]:
    """The script's logical lines grouped under the comments that title them."""
    chunks: list[_Chunk] = []
    cur: _Chunk | None = None
    for ll in logical_lines(content, first_line, prefix):
        if ll.blank:
            if cur is not None and not cur.commands:
                cur.closed = True
        elif ll.comment is not None:
            if not ll.comment:
                continue
            if cur is not None and _is_note(cur, ll.comment):
                cur.notes.append(ll.comment)
            else:
                cur = _Chunk(line=ll.line, comments=[ll.comment])
                chunks.append(cur)
        else:
            if cur is None:
                cur = _Chunk(line=ll.line)
                chunks.append(cur)
            cur.commands.append(ll)
    return chunks


def _segments(commands: list[_Logical], kind: str) -> list[tuple[str, list[_Logical]]]:
    """Consecutive commands of the same kind together: SQL statements inside a shell chunk apart."""
    segments: list[tuple[str, list[_Logical]]] = []
    for cmd in commands:
        seg_kind = "sql" if kind == "sql" or is_sql(cmd.text) else "shell"
        if segments and segments[-1][0] == seg_kind:
            segments[-1][1].append(cmd)
        else:
            segments.append((seg_kind, [cmd]))
    return segments


def _chunk_steps(chunk: _Chunk, kind: str, language: str, group: str) -> list[Step]:
    """One chunk's steps: a manual step if it has no commands, else one per segment (titled by the first)."""
    title = chunk.comments[0] if chunk.comments else ""
    if not chunk.commands:
        return [Step(kind="manual", title=title, notes=tuple(chunk.notes), group=group, line=chunk.line)]
    steps: list[Step] = []
    for index, (seg_kind, cmds) in enumerate(_segments(chunk.commands, kind)):
        first = index == 0
        lang = language if seg_kind == kind else seg_kind
        steps.append(
            _command_step(
                seg_kind,
                title if first else "",
                cmds,
                chunk.notes if first else [],
                chunk.line if first else cmds[0].line,
                group,
                lang,
            )
        )
    return steps


def script_steps(content: str, first_line: int, kind: str, language: str, group: str) -> list[Step]:
    """A shell or SQL script, one step per comment-titled chunk."""
    prefix = "#" if kind == "shell" else "--"
    steps: list[Step] = []
    for chunk in _chunks(content, first_line, prefix):
        steps += _chunk_steps(chunk, kind, language, group)
    return steps


def console_steps(content: str, first_line: int, language: str, group: str) -> list[Step]:
    """`$ command` lines are steps; the lines after each are its expected output."""
    steps: list[Step] = []
    pending_title = ""
    current: tuple[str, int, list[str], str] | None = None

    def flush() -> None:
        if current is not None:
            command, line, output, title = current
            notes = ["Expected output:\n" + "\n".join(output)] if output else []
            logical = [_Logical(command, line)]
            steps.append(_command_step("shell", title, logical, notes, line, group, language))

    for offset, raw in enumerate(content.splitlines()):
        stripped = raw.strip()
        if stripped.startswith("$ "):
            flush()
            current = (stripped[2:].strip(), first_line + offset, [], pending_title)
            pending_title = ""
        elif current is not None and stripped:
            current[2].append(raw.rstrip())
        elif stripped.startswith("#") and current is None:
            pending_title = stripped.lstrip("#").strip()
    flush()
    return steps


def checklist_steps(content: str, first_line: int, group: str) -> list[Step]:
    steps: list[Step] = []
    for offset, raw in enumerate(content.splitlines()):
        m = CHECKBOX.match(raw)
        if m:
            checked = (m.group("mark") or "").lower() == "x" or (m.group("glyph") or "") in CHECKED_GLYPHS
            steps.append(
                Step(
                    kind="confirm",
                    title=m.group("text").strip(),
                    group=group,
                    checked=checked,
                    line=first_line + offset,
                )
            )
        elif raw.strip().endswith(":"):
            group = raw.strip().rstrip(":").strip()
    return steps


def flow_steps(content: str, first_line: int, group: str) -> list[Step]:
    steps: list[Step] = []
    for offset, raw in enumerate(content.splitlines()):
        m = _NUMBERED.match(raw)
        if m:
            title = m.group("text").strip()
            steps.append(Step(kind="manual", title=title, group=group, line=first_line + offset))
    return steps


def _reference_step(title: str, content: str, language: str, group: str, line: int) -> Step:
    return Step(
        kind="reference",
        title=title,
        command=content.rstrip("\n"),
        language=language,
        group=group,
        line=line,
    )


def _skipped(attrs: dict[str, str]) -> bool:
    """Whether the block's attributes keep it out of runs (then it is shown as a reference snippet)."""
    skip = _truthy(attrs.get("skip")) or _truthy(attrs.get("excludeFromRunAll"))
    return skip or attrs.get("run") == "false"


def _named_step(content: str, first_line: int, lang: str, name: str, group: str) -> Step:
    """A named shell or SQL block is one step: its first comment titles it (else its name), the rest are
    notes."""
    kind = "sql" if lang in SQL_LANGS else "shell"
    logical = logical_lines(content, first_line, "#" if kind == "shell" else "--")
    comments = [ll.comment for ll in logical if ll.comment]
    commands = [ll for ll in logical if ll.comment is None]
    title = comments[0] if comments else name
    return _command_step(kind, title, commands, comments[1:], first_line, group, lang)


def _unlabelled_steps(content: str, first_line: int, group: str) -> list[Step]:
    """A block without a language, read by what it looks like."""
    shape = classify_unlabelled(content)
    if shape == "checklist":
        return checklist_steps(content, first_line, group)
    if shape == "flow":
        return flow_steps(content, first_line, group)
    if shape == "console":
        return console_steps(content, first_line, "", group)
    if shape == "commands":
        return script_steps(content, first_line, "shell", "", group)
    return [_reference_step("text", content, "text", group, first_line)]


def _shell_steps(content: str, first_line: int, lang: str, group: str) -> list[Step]:
    """A shell block: a console transcript if any line starts with `$ `, else a script."""
    if any(line.strip().startswith("$ ") for line in content.splitlines()):
        return console_steps(content, first_line, lang, group)
    return script_steps(content, first_line, "shell", lang, group)


def _language_steps(
    content: str, first_line: int, lang: str, attrs: dict[str, str], group: str
) -> list[Step]:
    """The untitled steps of a block that is not skipped, by its language."""
    if attrs.get("name") and (lang in SHELL_LANGS or lang in SQL_LANGS):
        return [_named_step(content, first_line, lang, attrs["name"], group)]
    if lang in SQL_LANGS:
        return script_steps(content, first_line, "sql", lang, group)
    if lang in CONSOLE_LANGS:
        return console_steps(content, first_line, lang, group)
    if lang in SHELL_LANGS:
        return _shell_steps(content, first_line, lang, group)
    if lang == "":
        return _unlabelled_steps(content, first_line, group)
    return [_reference_step(lang, content, lang, group, first_line)]


def _titled(steps: list[Step], attrs: dict[str, str], default_title: str) -> list[Step]:
    """Steps with a title each (`default_title` for the first untitled one, else its first command line)
    and the block's attributes applied."""
    titled: list[Step] = []
    for step in steps:
        if not step.title:
            title = default_title or shorten(step.command.splitlines()[0] if step.command else step.kind)
            default_title = ""
            step = dc_replace(step, title=title)
        titled.append(_apply_attrs(step, attrs))
    return titled


def block_steps(
    info: str, content: str, first_line: int, group: str = "", default_title: str = ""
) -> list[Step]:
    """The steps a fenced or indented code block holds; `first_line` is the line of its first content line.

    Command steps without a comment to title them take `default_title` (the first one only), else their
    first command line.
    """
    lang, attrs = parse_info(info)
    if _skipped(attrs):
        title = attrs.get("name") or lang or "snippet"
        return [_reference_step(title, content, lang, group, first_line)]
    return _titled(_language_steps(content, first_line, lang, attrs, group), attrs, default_title)


def _apply_attrs(step: Step, attrs: dict[str, str]) -> Step:
    if not attrs or not step.runnable:
        return step
    changes: dict[str, object] = {}
    if attrs.get("name"):
        changes["name"] = attrs["name"]
    if attrs.get("title"):
        changes["title"] = attrs["title"]
    if attrs.get("timeout"):
        raw = attrs["timeout"]
        with contextlib.suppress(ValueError):
            value = float(raw) if re.fullmatch(r"\d+(\.\d+)?", raw) else raw
            changes["timeout"] = parse_duration(value).total_seconds()
    if "confirm" in attrs:
        changes["confirm"] = _truthy(attrs["confirm"])
    if "auto" in attrs:
        changes["auto"] = _truthy(attrs["auto"])
    database = attrs.get("db") or attrs.get("database")
    if database:
        changes["database"] = database
    if "destructive" in attrs:
        marked = step.destructive or ("marked destructive",)
        changes["destructive"] = marked if _truthy(attrs["destructive"]) else ()
    return dc_replace(step, **changes)  # type: ignore[arg-type]
