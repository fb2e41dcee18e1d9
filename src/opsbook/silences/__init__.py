"""Silences and maintenance windows: they mute notifications of matching alerts, never their evaluation."""
