"""The public status page: a snapshot of the public services, rebuilt on change, served to any crowd."""
