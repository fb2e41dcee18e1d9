"""opsbook.yaml: its schema (pydantic), and a loader whose errors name file, line and field."""
