"""Statistics and KPIs (pure)."""
