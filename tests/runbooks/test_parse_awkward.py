"""Runbooks of our own making with the awkward cases: code in list items, unlabelled blocks, comment-split
scripts, SQL inside shell, Runme attributes, placeholders, destructive commands, mangled encodings."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from opsbook.runbooks import destructive, placeholders
from opsbook.runbooks.blocks import block_steps, classify_unlabelled, is_sql, parse_info
from opsbook.runbooks.catalog import Catalog, Entry, ProcedureNotFound
from opsbook.runbooks.parse import parse_runbook
from opsbook.runbooks.text import clean_title, repair_mojibake

from .test_parse_examples import structure

DATA = Path(__file__).resolve().parent / "data"


def test_awkward_runbook_structure() -> None:
    runbook = parse_runbook((DATA / "awkward.md").read_text(encoding="utf-8"))
    assert runbook.title == "Payments API runbook"
    assert structure(runbook) == [
        (
            "Troubleshooting > API Not Responding",
            [("container-id", "text", ("<container-id>",))],
            [
                ("shell", "find-the-container", "Find the container", "$ docker ps --filter name=api"),
                ("shell", "restart-it", "Restart it", "$ docker restart <container-id>"),
                ("manual", "tell-the-team-in-incidents", "Tell the team in #incidents."),
                ("reference", "text", "text"),  # the message template
                ("reference", "text-2", "text"),  # the sample output
            ],
        ),
        (
            "Troubleshooting > Database maintenance",
            [("DATABASE_URL", "env", ("$DATABASE_URL",))],
            [
                (
                    "shell",
                    "1-check-bloat",
                    "1. Check bloat",
                    '$ psql "$DATABASE_URL" -c "SELECT relname FROM pg_stat_user_tables;"',
                ),
                ("sql", "2-vacuum", "2. Vacuum", "$ VACUUM ANALYZE;"),
                (
                    "manual",
                    "3-announce-the-maintenance-window-on",
                    "3. Announce the maintenance window on the status page",
                ),
                (
                    "shell",
                    "4-clean-old-dumps",
                    "4. Clean old dumps",
                    "$ rm -rf /var/backups/old-*",
                    "destructive=rm -rf",
                ),
            ],
        ),
        (
            "Troubleshooting > Restart with attributes",
            [("PRIMARY_REGION", "text", ("PRIMARY_REGION",))],
            [
                ("shell", "restart", "restart", "$ systemctl restart payments"),
                ("shell", "auto-clear", "auto-clear", "$ ./bin/clear-cache --region PRIMARY_REGION"),
            ],
        ),
        (
            "Troubleshooting > Deploy",
            [("YOUR_DEPLOY_COMMAND", "text", ("[YOUR_DEPLOY_COMMAND]",))],
            [
                ("confirm", "tag-the-release-yyyy-mm-dd", "Tag the release YYYY-MM-DD"),
                ("confirm", "changelog-written", "Changelog written"),
                ("shell", "run-the-deploy", "Run the deploy", "$ [YOUR_DEPLOY_COMMAND] --env production"),
                ("reference", "yaml", "yaml"),
                (
                    "shell",
                    "kubectl-get-pods",
                    "kubectl get pods",
                    "notes=Expected output:\nNAME    READY\napi-1   1/1",
                    "$ kubectl get pods",
                ),
            ],
        ),
        (
            "Troubleshooting > Cleanup stack",
            [],
            [
                (
                    "shell",
                    "aws-cloudformation-delete-stack-stack",
                    "aws cloudformation delete-stack --stack-name payments-old",
                    "$ aws cloudformation delete-stack --stack-name payments-old\n"
                    "git push --force origin main",
                    "destructive=delete-*,--force",
                ),
            ],
        ),
        (
            "Troubleshooting (staging) > API Not Responding",
            [],
            [
                (
                    "shell",
                    "curl-f-http-staging-internal-health",
                    "curl -f http://staging.internal/health",
                    "$ curl -f http://staging.internal/health",
                )
            ],
        ),
    ]
    attrs = {s.name: s for p in runbook.procedures for s in p.steps}
    assert (attrs["restart"].timeout, attrs["restart"].confirm, attrs["restart"].auto) == (60.0, True, False)
    assert attrs["auto-clear"].auto is True
    assert attrs["changelog-written"].checked and not attrs["tag-the-release-yyyy-mm-dd"].checked
    first = runbook.procedures[0]
    assert first.line == 8 and first.description == "Use when the health check fails."


def test_mangled_glyphs_are_repaired_single_and_double() -> None:
    box = "\u2610"
    once = box.encode().decode("mac_roman")  # how operations-template.md has it
    twice = box.encode().decode("cp1252", errors="ignore")  # noqa: F841 - documents the double case below
    double = "\u221a\u00a2\u00c0\u00fa\u00ac\u00ea"  # UTF-8 -> cp1252 -> UTF-8 -> Mac Roman
    assert repair_mojibake(once) == box
    assert repair_mojibake(double) == box
    assert repair_mojibake("Caf\u00e9 \u00dcberwachung \u2013 ok") == "Caf\u00e9 \u00dcberwachung \u2013 ok"
    text = f"## Checks\n\n```\n{double} First\n{once} Second\n```\n"
    steps = parse_runbook(text).procedures[0].steps
    assert [(s.kind, s.title) for s in steps] == [("confirm", "First"), ("confirm", "Second")]


@pytest.mark.parametrize(
    ("heading", "title"),
    [
        ("\U0001f6a8 API Not Responding", "API Not Responding"),
        ('"Service is down"', "Service is down"),
        ("\u201cOut of disk space\u201d", "Out of disk space"),
        ("\u00f0\u0178\u201c\u2039 Contents", "Contents"),  # cp1252-mangled emoji
        ("\uf8ff\u00fc\u00ec\u00e3 Quick Facts", "Quick Facts"),  # Mac Roman-mangled emoji
        ("Step 1: Staging Deployment", "Step 1: Staging Deployment"),
    ],
)
def test_heading_cleaning(heading: str, title: str) -> None:
    assert clean_title(heading) == title


def test_placeholders_found_and_filled() -> None:
    command = (
        'docker exec <container-id> redis-cli -a "$REDIS_PASSWORD" ping && [YOUR_DEPLOY_COMMAND] '
        '--rev PREVIOUS_REVISION --date YYYY-MM-DD; export FOO_BAR=1; echo $FOO_BAR $HOME "KEEP_QUOTED"'
    )
    params = placeholders.find(command)
    assert [(p.name, p.kind) for p in params] == [
        ("container-id", "text"),
        ("REDIS_PASSWORD", "env"),
        ("YOUR_DEPLOY_COMMAND", "text"),
        ("PREVIOUS_REVISION", "text"),
        ("YYYY-MM-DD", "date"),
    ]
    filled = placeholders.fill(
        command,
        params,
        {
            "container-id": "c1",
            "your_deploy_command": "deploy.sh",
            "PREVIOUS_REVISION": "41",
            "YYYY-MM-DD": "2026-01-05",
        },
    )
    assert filled.startswith('docker exec c1 redis-cli -a "$REDIS_PASSWORD" ping && deploy.sh --rev 41 ')
    assert "--date 2026-01-05" in filled and "$FOO_BAR" in filled
    date = next(p for p in params if p.kind == "date")
    assert placeholders.default_value(date, datetime(2026, 3, 4, tzinfo=UTC)) == "2026-03-04"
    assert placeholders.find("grep '[A-Z]' x; [ -f /tmp/x ] && SELECT CURRENT_TIMESTAMP", "sql") == []


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("rm -rf /var/lib/app", ("rm -rf",)),
        ("DROP TABLE users;", ("DROP",)),
        ("truncate table sessions;", ("TRUNCATE",)),
        ("aws cloudformation delete-stack --stack-name x", ("delete-*",)),
        ("helm upgrade app . --force", ("--force",)),
        ("aws rds restore-db-instance-from-db-snapshot --db-instance-identifier x", ("restore-db-instance",)),
        ("kubectl -n prod delete pod api-1", ("kubectl delete",)),
        ("[YOUR_RESTORE_COMMAND] now", ("YOUR_RESTORE_COMMAND (placeholder)",)),
        ("kubectl get pods -n production", ()),
        ("docker compose logs -f api", ()),
        ("curl -f https://api.example.com/health", ()),
    ],
)
def test_destructive(command: str, expected: tuple[str, ...]) -> None:
    assert destructive.reasons(command) == expected


def test_unlabelled_blocks_are_classified() -> None:
    assert classify_unlabelled("kubectl get pods\ncurl -f http://x/health\n") == "commands"
    assert classify_unlabelled("$ uptime\n 10:00 up 3 days\n") == "console"
    assert classify_unlabelled("NAME   READY   STATUS\napi-1  1/1     Running\n") == "text"
    assert classify_unlabelled("Subject: [SERVICE] is degraded\nHi all, we are on it.\n") == "text"
    assert classify_unlabelled("1. Page\n   |\n   v\n2. Check\n") == "flow"
    assert classify_unlabelled("\u2610 one\n- [x] two\n") == "checklist"


def test_sql_inside_shell_and_comment_splitting() -> None:
    assert is_sql("VACUUM ANALYZE;") and is_sql("SELECT 1") and is_sql("vacuum verbose users;")
    assert not is_sql("set -euo pipefail;") and not is_sql("select_tool --all")
    script = (
        "# Title\n# more detail\n\n# Lone comment\n\n# Third\n\necho one \\\n  two\n"
        "# Next\ncat <<EOF\n# not a comment\nEOF\n"
    )
    steps = block_steps("bash", script, 10)
    assert [(s.kind, s.title, s.notes, s.line) for s in steps] == [
        ("manual", "Title", ("more detail",), 10),
        ("manual", "Lone comment", (), 13),
        ("shell", "Third", (), 15),
        ("shell", "Next", (), 19),
    ]
    assert steps[2].command == "echo one \\\n  two"
    assert steps[3].command == "cat <<EOF\n# not a comment\nEOF"


def test_fence_attributes() -> None:
    assert parse_info("bash {name=restart timeout=60 confirm=true}") == (
        "bash",
        {"name": "restart", "timeout": "60", "confirm": "true"},
    )
    assert parse_info('sh { "name": "x", "auto": true }') == ("sh", {"name": "x", "auto": "true"})
    (step,) = block_steps("sql {db=reporting timeout=5m destructive=false}", "DELETE FROM tmp;", 1)
    assert (step.kind, step.database, step.timeout, step.destructive) == ("sql", "reporting", 300.0, ())
    (ref,) = block_steps("bash {excludeFromRunAll=true}", "rm -rf /", 1)
    assert ref.kind == "reference"


def test_resolve_names() -> None:
    template = parse_runbook((DATA / "examples" / "operations-template.md").read_text(encoding="utf-8"))
    awkward = parse_runbook((DATA / "awkward.md").read_text(encoding="utf-8"))
    catalog = Catalog([Entry("operations-template", "t.md", template), Entry("awkward", "a.md", awkward)])
    assert catalog.resolve("Service is down").procedure.title == "Service is down"
    assert catalog.resolve('"service IS down"').procedure.title == "Service is down"
    assert catalog.resolve("Troubleshooting \u203a API Not Responding").procedure.path == (
        "Troubleshooting",
        "API Not Responding",
    )
    assert catalog.resolve("troubleshooting > api not responding").ref == (
        "awkward/troubleshooting-api-not-responding"
    )
    with pytest.raises(ProcedureNotFound) as ambiguous:
        catalog.resolve("API Not Responding")
    assert "matches 2 procedures" in str(ambiguous.value) and len(ambiguous.value.candidates) == 2
    with pytest.raises(ProcedureNotFound) as unknown:
        catalog.resolve("Servise is down")
    assert "close matches" in str(unknown.value) and "Service is down" in str(unknown.value)


def test_first_steps_for_notifications() -> None:
    from opsbook.runbooks.service import first_steps

    runbook = parse_runbook((DATA / "awkward.md").read_text(encoding="utf-8"))
    assert first_steps(runbook.procedures[0], 2) == [
        "Find the container: docker ps --filter name=api",
        "Restart it: docker restart <container-id>",
    ]
