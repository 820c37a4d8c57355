"""Detection engine: event-time state, windows, rules, scoring, warnings (pure)."""
