"""Runbooks: Markdown files read as procedures of steps, walked in the terminal or via the API."""
