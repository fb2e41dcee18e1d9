"""Status-page subscribers: visitors of /status subscribed by e-mail or webhook, told of published
incidents and of maintenance ahead of time, through notify's outbox (see service.py)."""
