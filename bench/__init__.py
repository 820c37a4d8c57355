"""Benchmarks: ours and peers side by side, written to bench/results/ (JSON + Markdown)."""
