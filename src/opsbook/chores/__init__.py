"""Recurring chores: runbook procedures done on a schedule by the on-call of a schedule or a user."""
