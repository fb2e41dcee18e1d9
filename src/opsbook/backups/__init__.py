"""Backups: backup jobs, what opsbook learns of their backups, RPO/RTO, retention and restore drills."""
