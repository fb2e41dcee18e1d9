"""The store: engine and sessions (SQLite by default, PostgreSQL when configured), models, migrations."""
