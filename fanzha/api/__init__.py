"""HTTP API (FastAPI): thin routers over the application services."""
