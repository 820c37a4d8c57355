"""Untimed 4-hop reachability (accounts reachable within 4 transfers of a seed, ignoring time
and amount) three ways on the same ledger: the ledger's CSR breadth-first search, Kuzu's
variable-length path query and a DuckDB recursive CTE. CPU seconds, one thread each; the
reachable sets must be identical (a seed reaches itself only through a cycle)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

HOPS = 4
#: a Kuzu query still running after this long is stopped (recorded as no answer)
KUZU_TIMEOUT_MS = 120_000
KUZU_QUERY = "MATCH (a:Acct)-[:T*1..4]->(b:Acct) WHERE a.id = $seed RETURN DISTINCT b.id"
DUCKDB_QUERY = """
WITH RECURSIVE r(node, depth) AS (
    SELECT ?::INTEGER, 0
    UNION
    SELECT e.dst, r.depth + 1 FROM r JOIN e ON e.src = r.node WHERE r.depth < 4
)
SELECT DISTINCT node FROM r WHERE depth >= 1
"""


def _cpu(fn: Any) -> tuple[float, Any]:
    began = time.process_time()
    out = fn()
    return time.process_time() - began, out


def reachability(table: pa.Table, seeds: list[str]) -> dict[str, Any]:
    """Each peer's CPU seconds per seed and whether the sets agree."""
    import duckdb
    import kuzu

    from fanzha.funds.ledger import Ledger

    ledger = Ledger.build(table)
    ids = [ledger.account_id(s) for s in seeds]
    roots = [i for i in ids if i is not None]
    main = ledger.main
    assert main is not None
    edges = pa.table({"src": pa.array(main.payer), "dst": pa.array(main.payee)})
    out: dict[str, Any] = {"transfers": table.num_rows, "seeds": len(roots), "per_seed": []}
    db = duckdb.connect()
    db.execute("SET threads = 1")
    db.register("edges", edges)
    spent, _ = _cpu(lambda: db.execute("CREATE TABLE e AS SELECT * FROM edges"))
    out["duckdb_load_s"] = spent
    with tempfile.TemporaryDirectory() as tmp:
        spent, conn = _cpu(lambda: _kuzu(kuzu, Path(tmp), ledger.accounts, edges))
        out["kuzu_load_s"] = spent
        for root in roots:
            ours_s, ours = _cpu(lambda r=root: set(ledger.reachable(r, HOPS).tolist()))
            duck_s, duck = _cpu(
                lambda r=root: {row[0] for row in db.execute(DUCKDB_QUERY, [r]).fetchall()}
            )
            kuzu_s, found = _cpu(lambda r=root: _kuzu_reach(conn, r))
            out["per_seed"].append(
                {
                    "reached": len(ours),
                    "ours_s": ours_s,
                    "duckdb_s": duck_s,
                    "kuzu_s": kuzu_s,
                    "kuzu_answered": found is not None,
                    "same": ours == duck and (found is None or ours == found),
                }
            )
    rows = out["per_seed"]
    total = {k: sum(r[k] for r in rows) for k in ("ours_s", "duckdb_s", "kuzu_s")}
    out |= total
    out["same"] = all(r["same"] for r in rows)
    out["vs_kuzu"] = total["kuzu_s"] / max(total["ours_s"], 1e-9)
    out["vs_duckdb"] = total["duckdb_s"] / max(total["ours_s"], 1e-9)
    return out


def _kuzu(kuzu: Any, folder: Path, accounts: int, edges: pa.Table) -> Any:
    pq.write_table(
        pa.table({"id": pa.array(np.arange(accounts, dtype=np.int64))}), folder / "n.parquet"
    )
    pq.write_table(
        edges.cast(pa.schema([("src", pa.int64()), ("dst", pa.int64())])), folder / "e.parquet"
    )
    db = kuzu.Database(str(folder / "db"))
    conn = kuzu.Connection(db, num_threads=1)
    conn.set_query_timeout(KUZU_TIMEOUT_MS)
    conn.execute("CREATE NODE TABLE Acct(id INT64, PRIMARY KEY (id))")
    conn.execute("CREATE REL TABLE T(FROM Acct TO Acct)")
    conn.execute(f"COPY Acct FROM '{folder / 'n.parquet'}'")
    conn.execute(f"COPY T FROM '{folder / 'e.parquet'}'")
    conn._keep = db  # the connection must not outlive its database
    return conn


def _kuzu_reach(conn: Any, root: int) -> set[int] | None:
    try:
        result = conn.execute(KUZU_QUERY, {"seed": root})
    except RuntimeError:  # the timeout
        return None
    found = set()
    while result.has_next():
        found.add(int(result.get_next()[0]))
    return found
