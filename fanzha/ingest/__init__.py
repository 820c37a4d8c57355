"""Ingestion: readers and profiles, validation and normalisation, dead letters."""
