"""Web command centre (Jinja2 + HTMX + ECharts)."""
