"""The importer never raises, whatever it is given: arbitrary text, arbitrary Markdown, arbitrary bytes;
whatever it drafts from them validates with opsbook's own loader, and agrees with its document."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opsbook.config.yamlpos import load_with_lines
from opsbook.docimport.drift import ConfigView, compare
from opsbook.docimport.samples import environment
from tests.docimport.support import imported_bytes, validated

_PIECES = st.sampled_from(
    [
        "# ",
        "## 🚨 ",
        "### ",
        "- ",
        "* ",
        "1. ",
        "2) ",
        "> ",
        "**",
        "**P0 (Critical):** ",
        "| a | b |\n|---|---|\n",
        "| ",
        " |",
        "```bash\n",
        "```\n",
        "```sql\nSELECT 1;\n```\n",
        "\n",
        "\r\n",
        "    ",
        "`",
        "[",
        "]",
        "(",
        ")",
        "P0",
        "P1",
        "SEV2",
        " > ",
        " >= ",
        "80%",
        "500ms",
        " for 5 minutes",
        " over 10m",
        "3+ consecutive failures",
        "curl -f https://api.example.com/health",
        "psql -c 'SELECT 1'",
        "redis-cli ping",
        "kubectl get pods",
        "docker compose ps",
        "Sundays 2-4 AM UTC",
        "maintenance window",
        "rotates weekly among Ana, Ben and Chen",
        "Page engineering lead if still not resolved in 10 minutes",
        "escalate",
        "CPU",
        "Disk",
        "error rate",
        "p95 latency",
        "certificate expires",
        "#incidents Slack channel",
        "ops@acme.io",
        "[3 people]",
        "99.9% uptime",
        "Page (immediate): PagerDuty → SMS",
        "Log (no alert)",
        "next business day",
        "immediately",
        "ðŸ“‹",
        "â€”",
        "\x00",
        "\ufeff",
        "ÿ",
        "∞",
        "-1",
        "1e309",
        "999999999999 days",
        "00:00-24:00",
        "25:99",
    ]
)
_MARKDOWN = st.lists(st.one_of(_PIECES, st.text(max_size=12)), max_size=60).map("".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_MARKDOWN)
def test_markdown_like_text(text: str) -> None:
    """…and `opsbook doc check` finds no drift between any document and its own fresh draft."""
    result = imported_bytes(text.encode("utf-8", errors="surrogatepass"))
    loaded = validated(result)
    assert result.report_text.endswith("\n")
    env = environment(result.draft.variables)
    view = ConfigView(loaded.config, "opsbook.yaml", load_with_lines(result.yaml, "opsbook.yaml", env).lines)
    assert compare(result.draft, view) == []


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=400))
def test_any_text(text: str) -> None:
    validated(imported_bytes(text.encode("utf-8", errors="surrogatepass")))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_any_bytes(data: bytes) -> None:
    validated(imported_bytes(data))
