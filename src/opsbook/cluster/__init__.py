"""Running opsbook as more than one process on PostgreSQL: singleton duties held by advisory locks."""
