"""Secrets: an inventory of secrets (never their values), rotation policies, compromises and failures."""
