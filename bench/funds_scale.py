"""Funds tracing at scale: a seeded synthetic ledger of 10 M transfers, and the peers.

``python -m bench.funds_scale [--transfers N] [--accounts N] [--peer-transfers N]`` (one
process pinned to one core, Arrow and DuckDB on one thread; CPU seconds) prints one JSON line:

- the ledger index built (three times; wall clock, user and system CPU and minor page
  faults of each as well), 100,000 transfers appended (a run of appends, the
  ones that merge runs included), victim traces (depth 6, horizon 72 h, ranked freeze list
  included) p50/p95 per policy, and a hub-heavy trace (money paid into a payment platform);
- untimed 4-hop reachability from the same seeds (accounts reachable within 4 transfers,
  ignoring time and amount): the ledger's CSR breadth-first search beside Kuzu's
  variable-length path query and a DuckDB recursive CTE, the reachable sets compared.

The synthetic city (:func:`generate`): ~2 M card accounts (1 % non-numeric identifiers),
payers and payees drawn with heavy-tailed (Pareto) activity, a fifth of the payments going to
merchants (POS) and payment platforms (hubs that also pay out), 2 % ATM withdrawals, and
mule networks: a victim pays a first-layer mule, which splits the money onward within 3–10
minutes per hop over 3–6 layers, the last layer cashing out (ATM, crypto dealer) or holding.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

MIN = 60_000_000  # µs per minute
DAY = 24 * 60 * MIN
START = 1_767_225_600_000_000  # 2026-01-01 UTC, µs


@dataclass(frozen=True)
class City:
    """The synthetic ledger and what to trace in it."""

    table: pa.Table
    victims: list[tuple[str, int, int]]  # (first mule account, since µs, fen)
    hub: tuple[str, int, int]  # a victim payment made into the busiest platform


def _account_names(rng: np.random.Generator, n: int) -> pa.Array:
    """``n`` distinct account identifiers: 16- and 19-digit card numbers, 1 % others."""
    base = np.where(rng.random(n) < 0.5, 6_222_020_000_000_000_000, 6_217_000_000_000_000)
    step = np.arange(n, dtype=np.int64) * 997 + rng.integers(0, 997, n)
    names = pa.array((base + step).astype(np.uint64)).cast(pa.string())
    odd = np.flatnonzero(rng.random(n) < 0.01)
    other = pa.array([f"CN{int(i):020d}" for i in odd], pa.string())
    mixed = np.asarray(names.to_numpy(zero_copy_only=False), dtype=object)
    mixed[odd] = other.to_numpy(zero_copy_only=False)
    out: pa.Array = pa.array(mixed, pa.string())
    return out


def _heavy(rng: np.random.Generator, n: int, alpha: float) -> np.ndarray:
    """The cumulative distribution of Pareto activity weights, the busiest first."""
    weights = np.sort(rng.pareto(alpha, n) + 1.0)[::-1]
    cdf: np.ndarray = np.cumsum(weights)
    share: np.ndarray = cdf / cdf[-1]
    return share


def _draw(rng: np.random.Generator, cdf: np.ndarray, k: int) -> np.ndarray:
    drawn: np.ndarray = np.minimum(np.searchsorted(cdf, rng.random(k)), len(cdf) - 1)
    return drawn


def _mule_network(
    rng: np.random.Generator, victim: int, mules: np.ndarray, t0: int, fen: int, hub: int | None
) -> list[tuple[int, int, int, int, str]]:
    """(payer, payee, ts, fen, channel) rows of one case: victim → layers of mules → out."""
    rows = [(victim, int(mules[0]), t0, fen, "MOBILE")]
    layer = [(int(mules[0]), t0, fen)]
    next_mule = 1
    for _ in range(int(rng.integers(3, 7))):
        nxt: list[tuple[int, int, int]] = []
        for account, ts, amount in layer:
            parts = int(rng.integers(1, 4))
            cuts = np.sort(rng.integers(1, amount, parts - 1)) if amount > parts else np.zeros(0)
            shares = np.diff(np.concatenate([[0], cuts, [amount]])).astype(int)
            for share in shares:
                when = ts + int(rng.integers(3 * MIN, 10 * MIN))
                if hub is not None and len(nxt) == 0 and next_mule == 1:
                    rows.append((account, hub, when, int(share), "MOBILE"))
                    next_mule += 1
                    continue
                to = int(mules[next_mule % len(mules)])
                next_mule += 1
                rows.append((account, to, when, int(share), "MOBILE"))
                nxt.append((to, when, int(share)))
        layer = nxt
    for account, ts, amount in layer:
        if rng.random() < 0.7:
            when = ts + int(rng.integers(3 * MIN, 10 * MIN))
            rows.append((account, -1, when, amount, "ATM"))
    return rows


def generate(transfers: int, accounts: int, seed: int = 6, days: int = 30) -> City:
    """The seeded synthetic city (see the module docstring)."""
    rng = np.random.default_rng(seed)
    names = _account_names(rng, accounts + 1)  # the last one: the ATM network's terminal
    atm = accounts
    hubs = np.arange(accounts - 220, accounts)  # 200 merchants, then 20 payment platforms
    platforms = hubs[200:]
    cases = max(1, transfers // 5000)
    # mule cards are rented or bought: accounts with little other activity (the quiet half)
    quiet = np.arange(accounts // 2, accounts - 220)
    mule_pool = rng.permutation(quiet)[: cases * 40]
    case_rows: list[tuple[int, int, int, int, str]] = []
    victims = []
    for c in range(cases):
        victim = int(mule_pool[c * 40])
        mules = mule_pool[c * 40 + 1 : c * 40 + 40]
        t0 = START + (DAY if c == 0 else int(rng.integers(0, (days - 4) * DAY)))
        fen = int(rng.integers(5_000, 500_000)) * 100
        hub = int(platforms[0]) if c == 0 else None
        case_rows += _mule_network(rng, victim, mules, t0, fen, hub)
        victims.append((int(mules[0]), t0, fen))
    k = transfers - len(case_rows)
    payer = _draw(rng, _heavy(rng, accounts - 220, 1.3), k)
    payee = _draw(rng, _heavy(rng, accounts - 220, 1.3), k)
    kind = rng.random(k)
    to_hub = kind < 0.2
    plat_cdf = _heavy(rng, len(platforms), 0.8)
    merch_cdf = _heavy(rng, 200, 0.8)
    to_platform = kind < 0.08
    payee[to_hub] = hubs[_draw(rng, merch_cdf, int(to_hub.sum()))]
    payee[to_platform] = platforms[_draw(rng, plat_cdf, int(to_platform.sum()))]
    from_platform = (kind >= 0.2) & (kind < 0.25)  # withdrawals: platforms pay users
    payer[from_platform] = platforms[_draw(rng, plat_cdf, int(from_platform.sum()))]
    cash = (kind >= 0.25) & (kind < 0.27)
    payee[cash] = atm
    channel = np.where(to_hub & ~to_platform, 1, np.where(cash, 2, 0)).astype(np.int8)
    amount = np.maximum(100, rng.lognormal(9.5, 1.6, k)).astype(np.int64)
    amount[from_platform] //= 3  # platforms keep a float: money in exceeds money out
    ts = START + rng.integers(0, days * DAY, k)
    cp, ce, ct, cf, cc = zip(*case_rows, strict=True)
    all_payer = np.concatenate([payer, np.array(cp)])
    all_payee = np.concatenate([payee, np.where(np.array(ce) < 0, atm, np.array(ce))])
    all_ts = np.concatenate([ts, np.array(ct)])
    all_fen = np.concatenate([amount, np.array(cf)])
    codes = {"MOBILE": 0, "POS": 1, "ATM": 2}
    all_channel = np.concatenate([channel, np.array([codes[c] for c in cc], np.int8)])
    order = np.argsort(all_ts, kind="stable")
    channels = pa.DictionaryArray.from_arrays(
        pa.array(all_channel[order]), pa.array(["MOBILE", "POS", "ATM"])
    )
    table = pa.table(
        {
            "payer_account": names.take(pa.array(all_payer[order])),
            "payee_account": names.take(pa.array(all_payee[order])),
            "ts": pa.array(all_ts[order], pa.timestamp("us", tz="UTC")),
            "amount_fen": pa.array(all_fen[order], pa.int64()),
            "channel": channels,
        }
    )
    named = [(str(names[a]), t, f) for a, t, f in victims]
    return City(table, named[1:], named[0])


# ------------------------------------------------------------------------------ measuring


def _cpu(fn: Any) -> tuple[float, Any]:
    began = time.process_time()
    out = fn()
    return time.process_time() - began, out


def _rusage() -> tuple[float, float, float, int]:
    """Wall clock, user and system CPU seconds, and minor page faults so far."""
    used = resource.getrusage(resource.RUSAGE_SELF)
    return time.perf_counter(), used.ru_utime, used.ru_stime, used.ru_minflt


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def _shape(t: Any) -> Any:
    return (
        [(n.to_json(extra=True), n.out_fen) for n in t.nodes],
        [(e.source, e.target, e.ts, e.fen) for e in t.edges],
    )


def _timed(ledger: Any, root: tuple[str, int, int], policy: Any) -> tuple[float, Any]:
    """CPU seconds of one trace and its ranked freeze list; the trace."""
    from fanzha.funds.trace import trace

    began = time.process_time()
    found = trace(ledger, *root, policy)
    found.freeze_list()
    return time.process_time() - began, found


def measure_ledger(city: City, traces: int, append_rows: int) -> dict[str, Any]:
    """Build, append, victim traces per policy, the hub trace."""
    from fanzha.funds.ledger import Ledger
    from fanzha.funds.trace import Policy, trace
    from fanzha.jit import preload

    table = city.table
    preload()  # Numba's import is the library's start-up (the service's too), not the build
    builds, split = [], []  # the first build in the process pays the page faults of fresh memory
    for _ in range(3):
        before = _rusage()
        spent, ledger = _cpu(lambda: Ledger.build(table))
        after = _rusage()
        builds.append(spent)
        wall, user, system, faults = (a - b for a, b in zip(after, before, strict=True))
        split.append({"wall_s": wall, "user_s": user, "sys_s": system, "minflt": int(faults)})
    head = table.num_rows - 30 * append_rows
    grown = Ledger.build(table.slice(0, head))
    appends = []
    for start in range(head, table.num_rows, append_rows):
        spent, _ = _cpu(lambda s=start: grown.append(table.slice(s, append_rows)))
        appends.append(spent)
    out: dict[str, Any] = {
        "transfers": table.num_rows,
        "accounts": ledger.accounts,
        "build_s": builds,
        "build_split": split,
        "append_rows": append_rows,
        "append_s": appends,
        "policies": {},
    }
    out["grown_delta_rows"] = sum(len(r) for r in grown.deltas)
    for policy in Policy:
        ms, touched, same, cut, on_grown = [], [], True, 0, []
        # poison and pro-rata spread the money over every payee of a hub: fewer traces
        many = traces if policy.value in ("libr", "fifo", "lifo") else max(1, traces // 5)
        for k, (account, since, fen) in enumerate(city.victims[:many]):
            spent, t = _timed(ledger, (account, since, fen), policy)
            ms.append(spent * 1000)
            touched.append(t.touched)
            cut += t.cut_at is not None  # stopped by the work limit
            if k < 20 or policy is Policy.LIBR:  # LIBR's all timed on the appended-to ledger
                spent, g = _timed(grown, (account, since, fen), policy)
                on_grown.append(spent * 1000)
                same &= _shape(g) == _shape(t)
        row: dict[str, Any] = {"traces": len(ms)}
        if policy is Policy.LIBR:
            row |= {
                "grown_p50_ms": statistics.median(on_grown),
                "grown_p95_ms": _pct(on_grown, 0.95),
            }
        if policy.value in ("libr", "fifo", "lifo"):
            account, since, fen = city.hub
            spent, t = _timed(ledger, city.hub, policy)
            same &= _shape(trace(grown, account, since, fen, policy)) == _shape(t)
            row |= {"hub_s": spent, "hub_touched": t.touched, "hub_nodes": len(t.nodes)}
        out["policies"][policy.value] = row | {
            "p50_ms": statistics.median(ms),
            "p95_ms": _pct(ms, 0.95),
            "max_ms": max(ms),
            "touched_p50": statistics.median(touched),
            "cut": cut,
            "same_after_append": same,
        }
    return out


def main() -> None:
    """Pin to one core, generate, measure, print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--transfers", type=int, default=10_000_000)
    parser.add_argument("--accounts", type=int, default=2_000_000)
    parser.add_argument("--traces", type=int, default=200)
    parser.add_argument("--append-rows", type=int, default=100_000)
    parser.add_argument("--peer-transfers", type=int, default=0, help="0: skip the peers")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument(
        "--peers", default="duckdb,kuzu", help="peers of the reachability run (comma-separated)"
    )
    parser.add_argument("--skip-ledger", action="store_true")
    args = parser.parse_args()
    os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    spent, city = _cpu(lambda: generate(args.transfers, args.accounts))
    result: dict[str, Any] = {"generate_s": spent}
    if not args.skip_ledger:
        result |= measure_ledger(city, args.traces, args.append_rows)
    if args.peer_transfers:
        from bench.funds_peers import reachability

        small = city.table.slice(0, args.peer_transfers)
        seeds = [a for a, since, _ in city.victims if since < _last_ts(small)][: args.seeds]
        result["reach"] = reachability(small, seeds, tuple(args.peers.split(",")))
    print(json.dumps(result))


def _last_ts(table: pa.Table) -> int:
    return int(table["ts"][-1].value)


if __name__ == "__main__":
    main()
