"""Deterministic demo data: product workspaces, users and events, and a CRM consistent with them."""

# The smallest demo that still has every kind of account (kept here, import-light, for the CLI's option checks)
MIN_ACCOUNTS = 20
MIN_DAYS = 7  # a week: the window needs weekdays and weekends
