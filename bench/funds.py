"""Funds tracing: the ledger index built from a lake's transfers, appends, and trace latency
per policy, beside the per-transfer reference tracer (``fanzha.funds.reference``: one Python
loop over every transfer of the ledger, the same answers).

Child side (``python -m bench.funds DATA TRUTH TRACES PEER_TRACES``, one process pinned to
one core, Arrow on one thread; CPU seconds): reads the transfers of the lake under DATA,
builds the ledger three times, appends the last 100,000 transfers (or a tenth) to a ledger of
the rest, then traces the victims' first payments named in the simulation's truth folder
TRUTH (``payments.parquet``; without it, the largest transfers) under every policy. The
reference traces the first PEER_TRACES of them, and their answers are compared. With a truth
folder, each trace is also scored against ``flows.parquet``: the mule accounts found, the
layers, and the share of the money placed where it really is (held by, or cashed out from,
the right account).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from bench.child import run_child

PEER_NAME = "per-transfer Python reference (fanzha.funds.reference)"
APPEND_ROWS = 100_000
Row = tuple[str, str, float, float | None, str]  # figure, unit, ours, peer, peer name


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def _roots(table: pa.Table, truth: Path | None, n: int) -> list[tuple[str, int, int, str]]:
    """(account, since µs, fen, root event id) of the payments to trace."""
    if truth is not None and (truth / "payments.parquet").exists():
        pays = pq.read_table(truth / "payments.parquet")
        pays = pays.filter(pc.equal(pays["payment_no"], 1)).slice(0, n).to_pylist()
        return [
            (p["payee_account"], int(p["ts"].timestamp() * 1e6), p["amount_fen"], p["event_id"])
            for p in pays
        ]
    top = table.take(pc.sort_indices(table["amount_fen"], "descending")[:n]).to_pylist()
    return [
        (r["payee_account"], int(r["ts"].timestamp() * 1e6), r["amount_fen"], r["event_id"])
        for r in top
    ]


def _truth_flows(truth: Path | None) -> dict[str, list[dict[str, Any]]]:
    if truth is None or not (truth / "flows.parquet").exists():
        return {}
    by_root: dict[str, list[dict[str, Any]]] = {}
    for f in pq.read_table(truth / "flows.parquet").to_pylist():
        by_root.setdefault(f["root_event_id"], []).append(f)
    return by_root


def _score(t: Any, account: str, fen: int, flows: list[dict[str, Any]]) -> dict[str, float]:
    """Mule accounts found, layers, and money placed where the truth says it is."""
    truth_accounts = {f["to_account"] for f in flows if f["kind"] == "hop"} | {account}
    end: dict[Any, int] = {account: fen}
    for f in flows:
        end[f["from_account"]] = end.get(f["from_account"], 0) - f["amount_fen"]
        key = f["to_account"] if f["kind"] == "hop" else ("cash", f["from_account"])
        end[key] = end.get(key, 0) + f["amount_fen"]
    nodes = {n.account: n for n in t.nodes}
    placed = sum(
        min(n.holdable_fen, max(0, end.get(a, 0))) + min(n.cash_out_fen, end.get(("cash", a), 0))
        for a, n in nodes.items()
    )
    return {
        "truth_accounts": len(truth_accounts),
        "found": len(truth_accounts & set(nodes)),
        "nodes": len(nodes),
        "truth_layers": max([f["hop"] for f in flows if f["kind"] == "hop"] or [0]),
        "layers": t.layers,
        "placed_fen": placed,
        "fen": fen,
    }


def child(data: Path, truth: Path | None, traces: int, peer_traces: int) -> dict[str, Any]:
    """Every measurement of the funds part, in this process."""
    from fanzha.funds.ledger import Ledger
    from fanzha.funds.reference import trace_reference
    from fanzha.funds.trace import Policy, trace
    from fanzha.lake import Lake
    from fanzha.tracing import lake_transfers

    pa.set_cpu_count(1)
    began = time.process_time()
    table = lake_transfers(Lake(data / "lake"))
    read_s = time.process_time() - began
    builds = []
    for _ in range(3):
        began = time.process_time()
        ledger = Ledger.build(table)
        builds.append(time.process_time() - began)
    tail = min(APPEND_ROWS, table.num_rows // 10)
    grown = Ledger.build(table.slice(0, table.num_rows - tail))
    began = time.process_time()
    grown.append(table.slice(table.num_rows - tail))
    append_s = time.process_time() - began
    roots = _roots(table, truth, traces)
    flows = _truth_flows(truth)
    out: dict[str, Any] = {
        "transfers": table.num_rows,
        "accounts": ledger.accounts,
        "read_s": read_s,
        "build_s": builds,
        "append_rows": tail,
        "append_s": append_s,
        "traces": len(roots),
        "policies": {},
    }
    for policy in Policy:
        ms, touched, scores, same, cut = [], [], [], True, 0
        for k, (account, since, fen, root) in enumerate(roots):
            began = time.process_time()
            t = trace(ledger, account, since, fen, policy)
            t.freeze_list()
            ms.append((time.process_time() - began) * 1000)
            touched.append(t.touched)
            cut += t.cut_at is not None
            if root in flows:
                scores.append(_score(t, account, fen, flows[root]))
            if k < peer_traces:
                again = trace(grown, account, since, fen, policy)
                same &= _shape(again) == _shape(t)
        peer_ms = []
        for account, since, fen, _ in roots[:peer_traces]:
            began = time.process_time()
            ref = trace_reference(table, account, since, fen, policy)
            peer_ms.append((time.process_time() - began) * 1000)
            # the reference has no work limit: compare with a trace that has none either
            ours = trace(ledger, account, since, fen, policy, max_work=2**62)
            same &= _shape(ref) == _shape(ours)
        out["policies"][policy.value] = {
            "ms": ms,
            "touched": touched,
            "cut": cut,
            "peer_ms": peer_ms,
            "same": same,
            "score": {k: sum(s[k] for s in scores) for k in scores[0]} if scores else {},
            "scored": len(scores),
        }
    return out


def _shape(t: Any) -> Any:
    return (
        [(n.to_json(extra=True), n.out_fen) for n in t.nodes],
        [(e.source, e.target, e.ts, e.fen) for e in t.edges],
    )


def main() -> None:
    """Child entry point: print one JSON line."""
    data, truth, traces, peer = sys.argv[1:5]
    core = max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    result = child(Path(data), Path(truth) if truth != "-" else None, int(traces), int(peer))
    print(json.dumps(result))


@dataclass(frozen=True)
class FundsBench:
    """What the funds part measured."""

    data: str
    result: dict[str, Any]

    @property
    def identical(self) -> bool:
        """The reference's answers (and those of an appended-to ledger) equal ours."""
        return all(p["same"] for p in self.result["policies"].values())


def run_all(data: Path, truth: Path | None, traces: int, peer_traces: int) -> FundsBench:
    """Run the child and return its figures."""
    print(f"measuring funds on {data} …", file=sys.stderr)
    args = [str(data), str(truth) if truth else "-", str(traces), str(peer_traces)]
    return FundsBench(str(data), run_child("bench.funds", *args))


def rows(bench: FundsBench) -> list[Row]:
    """Rows for the results table."""
    r = bench.result
    n = f"{r['transfers']:,}"
    found: list[Row] = [
        (f"funds ledger build ({n} transfers)", "s", statistics.median(r["build_s"]), None, ""),
        (f"funds append {r['append_rows']:,} transfers", "ms", r["append_s"] * 1000, None, ""),
    ]
    for name, p in r["policies"].items():
        peer = statistics.median(p["peer_ms"]) if p["peer_ms"] else None
        found.append(
            (
                f"funds trace {name} (median of {len(p['ms'])})",
                "ms",
                statistics.median(p["ms"]),
                peer,
                PEER_NAME,
            )
        )
        found.append((f"funds trace {name} p95", "ms", _pct(p["ms"], 0.95), None, ""))
    return found


def markdown(bench: FundsBench) -> str:
    """Details: figures, agreement, truth scores."""
    r = bench.result
    build = ", ".join(f"{s:.3f}" for s in r["build_s"])
    lines = [
        "",
        "### Funds tracing (one process pinned to one core, Arrow on one thread; CPU time)",
        "",
        f"- Lake {bench.data}: {r['transfers']:,} transfers, {r['accounts']:,} accounts;"
        f" read and sorted in {r['read_s']:.2f} s; ledger built in {build} s;"
        f" {r['append_rows']:,} transfers appended in {r['append_s'] * 1000:.1f} ms.",
        f"- {r['traces']:,} traces per policy (depth 6, horizon 72 h, until the end of the"
        " lake, ranked freeze list included); the reference traced the first ones:",
        "",
        "| policy | median ms | p95 ms | max ms | transfers looked at (median) |"
        " reference median ms | same answers | accounts found | precision | layers"
        " (ours / truth, mean) | money placed right |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, p in r["policies"].items():
        s = p["score"]
        truth = (
            f"{s['found'] / s['truth_accounts']:.1%} | {s['found'] / max(1, s['nodes']):.1%} |"
            f" {s['layers'] / p['scored']:.2f} / {s['truth_layers'] / p['scored']:.2f} |"
            f" {s['placed_fen'] / s['fen']:.1%}"
            if s
            else "– | – | – | –"
        )
        peer = f"{statistics.median(p['peer_ms']):,.0f}" if p["peer_ms"] else "–"
        lines.append(
            f"| {name} | {statistics.median(p['ms']):.2f} | {_pct(p['ms'], 0.95):.2f} |"
            f" {max(p['ms']):.2f} | {statistics.median(p['touched']):,.0f} | {peer} |"
            f" {'yes' if p['same'] else 'NO'} | {truth} |"
        )
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
