"""The operations log: one entry per operation (runbook runs, work done by hand), in the runbook template."""
