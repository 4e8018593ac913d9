"""The organization: opens rounds, validates and aggregates updates, publishes and finalizes."""
