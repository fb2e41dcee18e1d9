"""Checks: probe one service on a schedule (or receive pushes) and yield results."""
