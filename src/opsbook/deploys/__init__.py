"""Deploys: run the team's deploy procedure, verify it against the checks, roll back by itself, and keep
the record (DORA figures, markers where responders look)."""
