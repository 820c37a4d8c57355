"""Simulator: synthetic city and fraud ecosystem with ground truth."""
