"""Database care: what the `postgres` check measures, the report, top queries over a window, maintenance."""
