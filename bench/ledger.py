"""Funds at scale, the ``ledger`` part of ``make bench``: the seeded synthetic ledger of
:mod:`bench.funds_scale` (default 10 M transfers, ~1.9 M accounts) measured against the
issue's goals, with the reachability peers in the same run.

Two child processes (each pinned to one core, Arrow and DuckDB on one thread; CPU seconds):
the ledger (build ×3, 30 appends of 100,000 transfers, victim traces per policy, the hub
trace) with 4-hop reachability beside a DuckDB recursive CTE on the whole ledger; then
4-hop reachability beside Kuzu's variable-length path query *and* DuckDB on a prefix (Kuzu's
queries run for minutes at millions of transfers: 4 of 5 passed a two-minute limit at 5 M).
The reachable sets are compared on every side.
"""

from __future__ import annotations

import statistics
import sys
from dataclasses import dataclass
from typing import Any

from bench.child import run_child

Row = tuple[str, str, float, float | None, str]  # figure, unit, ours, peer, peer name
DUCKDB = "DuckDB WITH RECURSIVE (UNION), one thread"
KUZU = "Kuzu MATCH (a)-[:T*1..4]->(b), one thread"


@dataclass(frozen=True)
class LedgerBench:
    """What the ledger part measured: the full run and the prefix run's reachability."""

    full: dict[str, Any]
    prefix: dict[str, Any]

    @property
    def identical(self) -> bool:
        """Every peer's reachable sets equal ours; traces equal an appended-to ledger's."""
        same_traces = all(p["same_after_append"] for p in self.full["policies"].values())
        return same_traces and self.full["reach"]["same"] and self.prefix["reach"]["same"]


def run_all(transfers: int, traces: int, kuzu_transfers: int) -> LedgerBench:
    """Run both children."""
    print(f"measuring the ledger on {transfers:,} synthetic transfers …", file=sys.stderr)
    appends = min(100_000, transfers // 60)  # 30 appends into the second half
    full = run_child(
        "bench.funds_scale",
        "--transfers", str(transfers), "--traces", str(traces), "--append-rows", str(appends),
        "--peer-transfers", str(transfers), "--peers", "duckdb",
    )  # fmt: skip
    print(f"reachability beside Kuzu on the first {kuzu_transfers:,} …", file=sys.stderr)
    prefix = run_child(
        "bench.funds_scale",
        "--transfers", str(transfers), "--skip-ledger",
        "--peer-transfers", str(kuzu_transfers), "--peers", "duckdb,kuzu",
    )  # fmt: skip
    return LedgerBench(full, prefix)


def rows(bench: LedgerBench) -> list[Row]:
    """Rows for the results table (goals in the figure names)."""
    r = bench.full
    n = f"{r['transfers'] / 1e6:g} M"
    libr = r["policies"]["libr"]
    reach, small = r["reach"], bench.prefix["reach"]
    m = f"{small['transfers'] / 1e6:g} M"
    return [
        (f"funds ledger: index built, {n} transfers (goal ≤ 3 s), least of 3", "CPU s",
         min(r["build_s"]), None, ""),
        (f"funds ledger: {r['append_rows']:,} transfers appended, median of"
         f" {len(r['append_s'])} (goal ≤ 100 ms)", "CPU ms",
         statistics.median(r["append_s"]) * 1000, None, ""),
        (f"funds ledger: LIBR victim trace p95 of {libr['traces']}, ranked freeze list"
         " (goal ≤ 5 ms)", "CPU ms", libr["p95_ms"], None, ""),
        (f"funds ledger: the same on the ledger kept current by appends"
         f" ({r['grown_delta_rows']:,} rows in delta runs; goal ≤ 5 ms)", "CPU ms",
         libr["grown_p95_ms"], None, ""),
        (f"funds ledger: hub-heavy LIBR trace, {libr['hub_touched']:,} transfers looked at"
         " (goal ≤ 1,000 ms)", "CPU ms", libr["hub_s"] * 1000, None, ""),
        (f"funds ledger: 4-hop reachability, {n} transfers, {reach['seeds']} seeds"
         " (goal ≥ 500× faster than DuckDB)", "CPU ms", reach["ours_s"] * 1000,
         reach["duckdb_s"] * 1000, DUCKDB),
        (f"funds ledger: 4-hop reachability, {m} transfers, {small['seeds']} seeds"
         " (goal ≥ 20× faster than Kuzu)", "CPU ms", small["ours_s"] * 1000,
         small["kuzu_s"] * 1000, KUZU),
        (f"funds ledger: the same, {m} transfers, beside DuckDB", "CPU ms",
         small["ours_s"] * 1000, small["duckdb_s"] * 1000, DUCKDB),
    ]  # fmt: skip


def _builds(split: list[dict[str, Any]]) -> list[str]:
    """One line on each build: wall clock, user and system CPU, page faults."""
    if not split:
        return []
    each = "; ".join(
        f"{b['wall_s']:.2f} s wall, {b['user_s']:.2f} user + {b['sys_s']:.2f} system,"
        f" {b['minflt']:,} minor faults"
        for b in split
    )
    return [
        f"- Builds one by one (the first pays the page faults of fresh memory and the loading of"
        f" the build's compiled kernels; Numba is imported before them, as at a service's"
        f" start): {each}."
    ]


def markdown(bench: LedgerBench) -> str:
    """Details: per policy, per seed, the goals."""
    r = bench.full
    lines = [
        "",
        "### Funds at scale (synthetic ledger; one process pinned to one core; CPU time)",
        "",
        f"- `python -m bench.funds_scale`: {r['transfers']:,} transfers, {r['accounts']:,}"
        f" accounts, generated in {r['generate_s']:.1f} s. Index built in"
        f" {', '.join(f'{s:.2f}' for s in r['build_s'])} s; {len(r['append_s'])} appends of"
        f" {r['append_rows']:,}: median {statistics.median(r['append_s']) * 1000:.0f} ms,"
        f" max {max(r['append_s']) * 1000:.0f} ms (the appends that merge runs).",
        *_builds(r.get("build_split", [])),
        "",
        "| policy | traces | p50 ms | p95 ms | max ms | transfers looked at (p50) |"
        " stopped by the work limit | hub trace s (transfers) | same after appends |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, p in r["policies"].items():
        hub = f"{p['hub_s']:.3f} ({p['hub_touched']:,})" if "hub_s" in p else "–"
        lines.append(
            f"| {name} | {p['traces']} | {p['p50_ms']:.2f} | {p['p95_ms']:.2f} |"
            f" {p['max_ms']:.2f} | {p['touched_p50']:,.0f} | {p.get('cut', 0)} | {hub} |"
            f" {'yes' if p['same_after_append'] else 'NO'} |"
        )
    lines += ["", "4-hop reachability (untimed sanity peers; the sets compared):", ""]
    lines += ["| transfers | seed | reached | ours ms | DuckDB ms | Kuzu ms | same |"]
    lines += ["|---|---|---|---|---|---|---|"]
    for run in (r["reach"], bench.prefix["reach"]):
        for k, s in enumerate(run["per_seed"], start=1):
            kuzu = f"{s['kuzu_s'] * 1000:,.0f}" if "kuzu_s" in s else "–"
            lines.append(
                f"| {run['transfers']:,} | {k} | {s['reached']:,} | {s['ours_s'] * 1000:.1f} |"
                f" {s['duckdb_s'] * 1000:,.0f} | {kuzu} | {'yes' if s['same'] else 'NO'} |"
            )
    small = bench.prefix["reach"]
    lines += [
        "",
        f"- Ratios: DuckDB / ours {r['reach']['vs_duckdb']:.0f}× at {r['transfers']:,}"
        f" transfers and {small['vs_duckdb']:.0f}× at {small['transfers']:,};"
        f" Kuzu / ours {small['vs_kuzu']:.0f}× at {small['transfers']:,}. Loads (not in the"
        f" ratios): ours {r['reach']['ours_load_s']:.2f} s, DuckDB"
        f" {r['reach']['duckdb_load_s']:.2f} s, Kuzu {small.get('kuzu_load_s', 0):.2f} s.",
        "",
    ]
    return "\n".join(lines)
