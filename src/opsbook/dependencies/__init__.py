"""Dependencies between services and checks: alerts caused by a dependency that is down are recorded but
not announced on their own; the root cause's incident lists them (see graph.py, causes.py, release.py)."""
