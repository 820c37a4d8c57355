"""Synthetic inputs for the benchmarks (fast, vectorised, deterministic)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

PREFIXES = np.array([138, 139, 150, 186, 177, 170, 131, 159])


def _phones(rng: np.random.Generator, n: int, pool: int) -> pa.Array:
    ids = rng.integers(0, pool, n)
    prefix = PREFIXES[ids % len(PREFIXES)]
    numbers = prefix * 100_000_000 + (ids * 7919) % 100_000_000
    return pa.array(numbers.astype(np.int64)).cast(pa.string())


def calls(folder: Path, rows: int, seed: int = 1) -> tuple[Path, Path]:
    """Write ``rows`` call records as Parquet (typed) and NDJSON; return both paths."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    start = np.datetime64("2024-05-01T00:00:00", "us")
    offsets = np.sort(rng.integers(0, 14 * 86_400 * 1_000_000, rows))
    ts = pa.array(start + offsets.astype("timedelta64[us]")).cast(pa.timestamp("us"))
    table = pa.table(
        {
            "event_id": pa.array(np.arange(rows)).cast(pa.string()),
            "source": pa.array(["operator-a"] * rows),
            "ts": ts,
            "caller": _phones(rng, rows, 200_000),
            "callee": _phones(rng, rows, 200_000),
            "duration_s": pa.array(rng.integers(0, 3600, rows)),
            "city": pa.array(np.array(["重庆", "成都", "西安"])[rng.integers(0, 3, rows)]),
        }
    )
    parquet = folder / "calls.parquet"
    ndjson = folder / "calls.ndjson"
    pq.write_table(table, parquet)
    con = duckdb.connect()
    con.register("t", table)
    con.execute(
        "COPY (SELECT event_id, source, strftime(ts, '%Y-%m-%d %H:%M:%S') AS ts, caller, callee,"
        f" duration_s, city FROM t) TO '{ndjson.as_posix()}' (FORMAT JSON)"
    )
    return parquet, ndjson
