"""Fenced blocks whose lines are numbered comments are lists of steps, one per comment (manual where no
command follows it); and the runbook parser never raises on arbitrary Markdown (hypothesis)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opsbook.runbooks.blocks import block_steps, classify_unlabelled, is_numbered_comment
from opsbook.runbooks.parse import parse_runbook

DEPLOY = """\
# 1. Announce the deploy in #deploys
# 2. Wait for the pipeline to finish
# 3. Check health
curl -f https://api.example.com/health
"""


def _shape(info: str, content: str) -> list[tuple[str, str, str, int]]:
    return [(s.kind, s.title, s.command, s.line) for s in block_steps(info, content, 10)]


def test_numbered_comments_in_a_shell_block_are_one_step_each() -> None:
    assert _shape("bash", DEPLOY) == [
        ("manual", "1. Announce the deploy in #deploys", "", 10),
        ("manual", "2. Wait for the pipeline to finish", "", 11),
        ("shell", "3. Check health", "curl -f https://api.example.com/health", 12),
    ]


def test_an_unlabelled_block_of_numbered_comments_reads_the_same() -> None:
    assert _shape("", DEPLOY) == _shape("bash", DEPLOY)
    only_comments = "# 1. Announce the deploy\n# 2. Wait for the pipeline\n"
    assert classify_unlabelled(only_comments) == "commands"
    assert [(k, t) for k, t, _c, _l in _shape("", only_comments)] == [
        ("manual", "1. Announce the deploy"),
        ("manual", "2. Wait for the pipeline"),
    ]


def test_commands_between_numbered_comments_and_notes_under_them() -> None:
    content = """\
# Step 1: Stop the worker
systemctl stop worker
# Step 2: Take a backup
# (the nightly one is not enough: take a fresh one)
# Step 3: Start the worker
systemctl start worker
# expect: active (running)
"""
    steps = block_steps("sh", content, 1)
    assert [(s.kind, s.title, s.command, s.notes) for s in steps] == [
        ("shell", "Step 1: Stop the worker", "systemctl stop worker", ()),
        ("manual", "Step 2: Take a backup", "", ("(the nightly one is not enough: take a fresh one)",)),
        ("shell", "Step 3: Start the worker", "systemctl start worker", ("expect: active (running)",)),
    ]


def test_unnumbered_comments_over_a_command_stay_one_step() -> None:
    content = "# Restart the API\n# it takes a minute to come back\nsystemctl restart api\n"
    steps = block_steps("bash", content, 1)
    assert [(s.kind, s.title, s.notes) for s in steps] == [
        ("shell", "Restart the API", ("it takes a minute to come back",)),
    ]


def test_what_counts_as_a_numbered_comment() -> None:
    assert is_numbered_comment("1. Announce")
    assert is_numbered_comment("12) Wait")
    assert is_numbered_comment("Step 3: Check health")
    assert is_numbered_comment("step 4 - nope") is False
    assert is_numbered_comment("10 minutes later, check again") is False
    assert is_numbered_comment("Announce 1. thing") is False


def test_a_procedure_of_numbered_comments_in_a_document() -> None:
    text = "# Ops\n\n## Deploy\n\n```bash\n" + DEPLOY + "```\n"
    runbook = parse_runbook(text)
    (procedure,) = runbook.procedures
    assert [(s.kind, s.line) for s in procedure.steps] == [("manual", 6), ("manual", 7), ("shell", 8)]


_PIECES = st.sampled_from(
    [
        "# ", "## ", "### ", "#", "- ", "* ", "1. ", "2) ", "> ", "**", "__", "- [ ] ", "- [x] ", "☐ ",
        "```", "```bash\n", "```sql\n", "```\n", "~~~", "    ", "\t", "\n", "\r\n", "\r", "`", "[", "]",
        "(", ")", "<!-- opsbook: auto=true -->", "<!--", "-->", "---\n", "auto: true\n", "{name=x}",
        "# 1. Announce", "# Step 2: Wait", "curl -f https://x/health", "export FOO=bar; cd /tmp",
        "SELECT 1;", "VACUUM;", "<<EOF\n", "EOF\n", "\\\n", "'", '"', "$ ", "| a | b |\n|---|---|\n",
        "[YOUR_HOST]", "<service>", "${VAR}", "Ã©", "\u200b", "\x00", "🚨",
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(_PIECES, st.text(max_size=12)), max_size=40))
def test_the_parser_never_raises_on_arbitrary_markdown(pieces: list[str]) -> None:
    runbook = parse_runbook("".join(pieces), source="fuzz.md")
    for procedure in runbook.procedures:
        assert procedure.steps
        for step in procedure.steps:
            assert step.title
            assert step.line >= 1
