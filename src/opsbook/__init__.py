"""opsbook: makes a team's operations runbook run (checks, alerts, incidents, on-call, runbooks, status)."""

__version__ = "0.1.0"
