"""One measurement in its own process: ``python -m bench.measure KIND ARG WORKDIR``.

ARG is the input file for the ingestion kinds, a spec for the simulator kinds
(``bench/simulate.py``), which are also pinned to one core.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa


def _peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM; ru_maxrss would include the parent's)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ours(path: Path, workdir: Path) -> int:
    """Full pipeline into a fresh lake with a real SQLite store."""
    from fanzha.ingest.pipeline import Request
    from fanzha.service import App
    from fanzha.settings import Settings

    settings = Settings(data_dir=workdir)
    with App(settings) as fz:
        report = fz.ingest(Request([path], event_type="call"))
    if report.rejected:
        raise SystemExit(f"benchmark input had {report.rejected} rejected records")
    return report.accepted


AMLSIM_MAP = {
    "payer_account": "sourceNodeId",
    "payee_account": "targetNodeId",
    "amount": "value",
    "ts": "time",
}


def ours_amlsim(path: Path, workdir: Path) -> int:
    """Third-party transfers CSV (IBM AMLSim layout) through the mapped transfers profile."""
    from fanzha.ingest.pipeline import Request
    from fanzha.service import App
    from fanzha.settings import Settings

    with App(Settings(data_dir=workdir)) as fz:
        report = fz.ingest(Request([path], profile="transfers", mapping=AMLSIM_MAP))
    if report.rejected:
        raise SystemExit(f"AMLSim input had {report.rejected} rejected records")
    return report.accepted


def peer_pyarrow_parquet(path: Path, workdir: Path) -> int:
    """Read and rewrite Parquet with pyarrow, no validation."""
    import pyarrow.parquet as pq

    workdir.mkdir(parents=True, exist_ok=True)
    table = pq.read_table(path)
    pq.write_table(table, workdir / "out.parquet", compression="zstd")
    return int(table.num_rows)


def peer_pyarrow_ndjson(path: Path, workdir: Path) -> int:
    """Read NDJSON with pyarrow.json (one thread) and write Parquet, no validation."""
    import pyarrow.json as pj
    import pyarrow.parquet as pq

    workdir.mkdir(parents=True, exist_ok=True)
    table = pj.read_json(path, read_options=pj.ReadOptions(use_threads=False))
    pq.write_table(table, workdir / "out.parquet", compression="zstd")
    return int(table.num_rows)


def _duckdb_copy(reader: str, path: Path, workdir: Path) -> int:
    """DuckDB ``reader`` (read_json / read_csv) → Parquet on one thread, no validation."""
    import duckdb

    workdir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(config={"threads": 1})
    out = (workdir / "out.parquet").as_posix()
    con.execute(f"COPY (SELECT * FROM {reader}('{path.as_posix()}')) TO '{out}' (FORMAT PARQUET)")
    row = con.execute(f"SELECT count(*) FROM '{out}'").fetchone()
    return int(row[0]) if row else 0


def peer_duckdb_ndjson(path: Path, workdir: Path) -> int:
    """DuckDB read_json → Parquet on one thread, no validation."""
    return _duckdb_copy("read_json", path, workdir)


def peer_duckdb_csv(path: Path, workdir: Path) -> int:
    """DuckDB read_csv → Parquet on one thread, no validation."""
    return _duckdb_copy("read_csv", path, workdir)


KINDS = {
    "ours-parquet": ours,
    "ours-ndjson": ours,
    "peer-pyarrow-parquet": peer_pyarrow_parquet,
    "peer-pyarrow-ndjson": peer_pyarrow_ndjson,
    "peer-duckdb-ndjson": peer_duckdb_ndjson,
    "ours-amlsim": ours_amlsim,
    "peer-duckdb-csv": peer_duckdb_csv,
}


def _warm_imports() -> None:
    """Import everything first: module loading is start-up cost, not throughput."""
    import duckdb  # noqa: F401
    import pyarrow.json
    import pyarrow.parquet  # noqa: F401

    import fanzha.service  # noqa: F401


def _pin_to_one_core() -> int:
    """Pin this process to one core (the same one for every run) and return it."""
    core = max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    return core


def _simulator(kind: str, spec: str, workdir: Path) -> dict[str, Any]:
    """A simulator run or its peer: the kind's own figures plus time, CPU time and memory."""
    from bench import simulate

    core = _pin_to_one_core()
    simulate.warm_imports()
    baseline = _peak_rss_mib()
    cpu = time.process_time()
    start = time.perf_counter()
    result = simulate.KINDS[kind](spec, workdir)
    seconds = time.perf_counter() - start
    return result | {
        "seconds": seconds,
        "cpu_seconds": time.process_time() - cpu,
        "peak_rss_mib": _peak_rss_mib(),
        "rss_after_imports_mib": baseline,
        "core": core,
    }


def main() -> None:
    """Run one kind and print rows, seconds and peak RSS (and the kind's own figures) as JSON."""
    kind, arg, workdir = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    if kind not in KINDS:  # a simulator kind (bench/simulate.py)
        print(json.dumps(_simulator(kind, arg, workdir)))
        return
    _warm_imports()
    start = time.perf_counter()
    rows = KINDS[kind](Path(arg), workdir)
    seconds = time.perf_counter() - start
    print(json.dumps({"rows": rows, "seconds": seconds, "peak_rss_mib": _peak_rss_mib()}))


if __name__ == "__main__":
    main()
