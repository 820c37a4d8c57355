"""Graph analysis: components, communities, two-cards dealers (pure)."""
