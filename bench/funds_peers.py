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


def reachability(
    table: pa.Table, seeds: list[str], peers: tuple[str, ...] = ("duckdb", "kuzu")
) -> dict[str, Any]:
    """Each peer's CPU seconds per seed and whether the sets agree (``peers``: which of
    DuckDB and Kuzu to run beside the ledger; Kuzu's load is slow at 10 M transfers)."""
    import duckdb

    from fanzha.funds.ledger import Ledger

    ledger = Ledger.build(table)
    ids = [ledger.account_id(s) for s in seeds]
    roots = [i for i in ids if i is not None]
    main = ledger.main
    assert main is not None
    edges = pa.table({"src": pa.array(main.payer), "dst": pa.array(main.payee)})
    out: dict[str, Any] = {"transfers": table.num_rows, "seeds": len(roots), "per_seed": []}
    # our load, like the peers': the payers' distinct payees, the busiest payers' rows and
    # each account's payers (made at the first query), and the compiled search loaded (a
    # one-hop query: Numba's import and cache read)
    out["ours_load_s"], _ = _cpu(lambda: (main.payees(), roots and ledger.reachable(roots[0], 1)))
    db = duckdb.connect()
    db.execute("SET threads = 1")
    db.register("edges", edges)
    spent, _ = _cpu(lambda: db.execute("CREATE TABLE e AS SELECT * FROM edges"))
    out["duckdb_load_s"] = spent
    with tempfile.TemporaryDirectory() as tmp:
        conn = None
        if "kuzu" in peers:
            import kuzu

            spent, conn = _cpu(lambda: _kuzu(kuzu, Path(tmp), ledger.accounts, edges))
            out["kuzu_load_s"] = spent
        for root in roots:
            # each side's answer as an array (DuckDB's and Kuzu's fetched as NumPy / Arrow):
            # turning answers into Python sets to compare them is not timed
            ours_s, got = _cpu(lambda r=root: ledger.reachable(r, HOPS))
            ours = set(got.tolist())
            row: dict[str, Any] = {"reached": len(ours), "ours_s": ours_s, "same": True}
            if "duckdb" in peers:
                row["duckdb_s"], duck = _cpu(
                    lambda r=root: db.execute(DUCKDB_QUERY, [r]).fetchnumpy()["node"]
                )
                row["same"] &= ours == set(duck.tolist())
            if conn is not None:
                row["kuzu_s"], found = _cpu(lambda r=root: _kuzu_reach(conn, r))
                row["kuzu_answered"] = found is not None
                row["same"] &= found is None or ours == set(found.to_pylist())
            out["per_seed"].append(row)
    rows = out["per_seed"]
    ours_total = sum(r["ours_s"] for r in rows)
    out["ours_s"] = ours_total
    out["same"] = all(r["same"] for r in rows)
    for peer in peers:
        out[f"{peer}_s"] = sum(r[f"{peer}_s"] for r in rows)
        out[f"vs_{peer}"] = out[f"{peer}_s"] / max(ours_total, 1e-9)
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


def _kuzu_reach(conn: Any, root: int) -> pa.Array | None:
    try:
        result = conn.execute(KUZU_QUERY, {"seed": root})
    except RuntimeError:  # the timeout
        return None
    found: pa.Array = result.get_as_arrow().column(0).combine_chunks()
    return found
