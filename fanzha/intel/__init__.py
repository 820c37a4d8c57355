"""Threat intelligence: indicators, matchers, feeds (pure)."""
