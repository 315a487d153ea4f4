"""`pmo-sync serve`: the background service (scheduled cycles, locks, health, metrics)."""
