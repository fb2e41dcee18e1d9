"""Who may do what: API tokens, (later) users, sessions and roles."""
