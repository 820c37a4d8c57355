"""Dispatch: org tree, routing, instructions, SLA clock, outcomes (pure)."""
