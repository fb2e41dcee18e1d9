"""Alerts: the live state of rules (pending, firing, resolved) and of events from other tools."""
