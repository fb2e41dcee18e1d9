"""Rules: conditions over a check's recent results, with a severity and a runbook."""
