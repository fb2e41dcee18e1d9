"""Reading a team's operations document into a draft opsbook.yaml, and checking the two still agree.

`opsbook init --from OPERATIONS.md` and `opsbook doc check OPERATIONS.md`. The pure parts, each in its
own module: `encoding` (bytes → text, mojibake repaired), `statements` (Markdown → statements with their
lines), `words` (durations, severities, thresholds in English), the recognisers (`checks`, `alerts`,
`severities`, `oncall`, `windows`, `domains`, `others`), `draft` (findings → the config's data),
`yamlwrite` (data → YAML with a source comment on every entry), `report` (what was understood and what was
not) and `drift` (a document against the config in use).
"""
