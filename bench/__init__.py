"""Benchmarks: ours and peers side by side, written to bench/results/ (JSON + Markdown).

Every measurement runs with the product's process memory policy, as the ``fanzha`` commands do
(:mod:`fanzha.memory`: NumPy's large arrays in small pages unless ``FANZHA_HUGEPAGES=1``).
"""

from fanzha.memory import use_process_policy

use_process_policy()
