"""Every compiled loop loaded before the work that needs it (``python -m fanzha.warming``).

Numba compiles a kernel on its first call in a fresh checkout (half a second to a second
each, some forty of them: 20–40 s in all) and caches it in ``__pycache__``; later processes
load it in milliseconds. ``make setup`` runs this module once, so that the first ``make demo``
or ``fanzha detect`` does not compile in the middle of its work. It drives the real code
paths on a few made-up rows (each kernel compiles for the argument types it is called with):
the detection engine on every event type, in a small batch and a large one (the per-value
paths differ), and the funds ledger's build, append, LIBR walk and reachability search.
"""

from __future__ import annotations

import sys
import time

import pyarrow as pa

from fanzha.detect.engine import Engine
from fanzha.detect.kernels import warm as warm_detect_kernels
from fanzha.detect.registry import Registry
from fanzha.funds.ledger import Ledger
from fanzha.funds.trace import Policy, trace
from fanzha.jit import enabled

#: microseconds of the made-up rows' first second (2026-01-01, UTC)
T0 = 1_767_225_600_000_000
#: rows of the large batch: past every few-values threshold of the per-value paths
LARGE = 300


def warm_kernels() -> None:
    """Compile (or load) the detection and funds kernels on made-up rows."""
    warm_detect_kernels()
    _warm_engine()
    _warm_ledger()


def _phone(i: int) -> str:
    return f"+86138{i:08d}"


def _ts(n: int, start_s: int) -> pa.Array:
    return pa.array([T0 + (start_s + i) * 1_000_000 for i in range(n)], pa.timestamp("us", "UTC"))


def _tables(n: int, start_s: int) -> dict[str, pa.Table]:
    """``n`` events of each common type, residents 0–9 in touch with outsiders."""
    ids = [f"w{start_s}-{i}" for i in range(n)]
    mine = [_phone(i % 10) for i in range(n)]
    theirs = [f"+86170{start_s + i:08d}" for i in range(n)]
    return {
        "call": pa.table({"event_id": ids, "ts": _ts(n, start_s), "callee": mine,
                          "caller": theirs, "duration_s": [1_200] * n}),
        "sms": pa.table({"event_id": ids, "ts": _ts(n, start_s), "recipient": mine,
                         "sender": theirs,
                         "text": [f"点击 http://x{i}.example.cn 领取退款 6222000011112222"
                                  for i in range(n)]}),
        "web_visit": pa.table({"event_id": ids, "ts": _ts(n, start_s), "subscriber": mine,
                               "url": [f"http://x{i}.example.cn/p" for i in range(n)]}),
        "app_install": pa.table({"event_id": ids, "ts": _ts(n, start_s), "subscriber": mine,
                                 "app_id": [f"com.example.a{i}" for i in range(n)]}),
        "transfer": pa.table({"event_id": ids, "ts": _ts(n, start_s),
                              "payer_account": [f"62220000{i % 10:08d}" for i in range(n)],
                              "payee_account": [f"62229999{start_s + i:08d}" for i in range(n)],
                              "amount_fen": [100_000 * (1 + i % 7) for i in range(n)]}),
    }  # fmt: skip


def _warm_engine() -> None:
    persons = pa.table(
        {
            "id_number": [f"11010119900101{i:04d}" for i in range(10)],
            "phones": [[_phone(i)] for i in range(10)],
            "accounts": [[f"62220000{i:08d}"] for i in range(10)],
        }
    )
    engine = Engine(Registry(persons))
    for n, start_s in ((5, 0), (LARGE, 100), (5, 1_000)):
        engine.process(_tables(n, start_s), (T0 // 1_000_000) + start_s + 2 * n)
    engine.flush()
    index = engine.contacts
    if index.chunks:  # made into chunks: a look-up of the ones met, as retro-correlation does
        index.contacts(index.counterparties(0)[:3].tolist(), 0)
    Engine.restore(engine.snapshot(), engine.registry, engine.intel)


def _warm_ledger() -> None:
    n = LARGE
    payer = ["V"] + [f"62221111{i:08d}" for i in range(n - 1)]
    payee = [f"62221111{i:08d}" for i in range(n - 1)] + ["ATM-1"]
    table = pa.table(
        {
            "event_id": [f"T{i}" for i in range(n)],
            "payer_account": payer,
            "payee_account": payee,
            "ts": _ts(n, 0),
            "amount_fen": [100_000 - i for i in range(n)],
            "channel": ["mobile"] * n,
        }
    )
    ledger = Ledger.build(table.slice(0, n - 50))
    ledger.append(table.slice(n - 50))  # a delta run: the walk over more than one run
    # the first mule's 100,000 fen, matched to its transfer in: the compiled LIBR walk
    trace(ledger, payee[0], T0, 100_000, Policy.LIBR)
    ledger.compact()  # the compiled search is over one main run
    first = ledger.account_id("V")
    if first is not None:  # the first step from a few accounts, the later ones from many
        ledger.reachable(first, LARGE)


def main() -> None:
    """Warm every kernel, saying how long it took."""
    if not enabled():
        print("warming: compiled loops are off (FANZHA_JIT=0): nothing to do")
        return
    began = time.perf_counter()
    warm_kernels()
    print(f"warming: compiled loops ready in {time.perf_counter() - began:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
