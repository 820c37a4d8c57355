"""Fanzha (反诈): an open platform for anti-telecom-fraud centres."""

__version__ = "0.1.0"
