"""Funds: cases, stop-payment and freeze orders, ledger, tracing (pure)."""
