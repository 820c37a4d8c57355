"""``make bench``: measure ingestion throughput and memory against peers in one run.

Every measurement runs in its own subprocess on one core (Arrow and DuckDB limited to one
thread) so peak RSS and events/s are per process and per core. Results go to
``bench/results/results.json`` and ``bench/results/results.md``; later issues add rows.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import generate

RESULTS = Path(__file__).parent / "results"
AMLSIM = Path(__file__).resolve().parents[2] / "shared/data/amlsim/20K_cycle200/transactions.csv"


def _one(kind: str, path: Path, workdir: Path) -> dict[str, float]:
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "FANZHA_DATA_DIR": str(workdir),
    }
    out = subprocess.run(
        [sys.executable, "-m", "bench.measure", kind, str(path), str(workdir)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _row(
    figure: str, unit: str, ours: float, peer: float | None, peer_name: str
) -> dict[str, object]:
    ratio = (ours / peer) if peer else None
    return {
        "figure": figure,
        "unit": unit,
        "ours": round(ours, 1),
        "peer": None if peer is None else round(peer, 1),
        "peer_name": peer_name,
        "ratio": None if ratio is None else round(ratio, 3),
    }


def main() -> None:
    """Run the ingestion benchmarks and write the results."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000, help="calls per input file")
    parser.add_argument("--big-rows", type=int, default=3_000_000, help="rows for the memory check")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="fanzha-bench-") as tmp:
        base = Path(tmp)
        print(f"generating {args.rows:,} calls …", file=sys.stderr)
        parquet, ndjson = generate.calls(base / "in", args.rows)
        measured: dict[str, dict[str, float]] = {}
        for kind, path in (
            ("ours-parquet", parquet),
            ("peer-pyarrow-parquet", parquet),
            ("ours-ndjson", ndjson),
            ("peer-duckdb-ndjson", ndjson),
            ("peer-pyarrow-ndjson", ndjson),
        ):
            print(f"measuring {kind} …", file=sys.stderr)
            measured[kind] = _one(kind, path, base / f"out-{kind}")
        print(f"generating {args.big_rows:,} calls for the memory check …", file=sys.stderr)
        _, big_ndjson = generate.calls(base / "big", args.big_rows)
        big_nd = _one("ours-ndjson", big_ndjson, base / "out-big-nd")
        if AMLSIM.exists():
            for kind in ("ours-amlsim", "peer-duckdb-csv"):
                print(f"measuring {kind} (real third-party data) …", file=sys.stderr)
                measured[kind] = _one(kind, AMLSIM, base / f"out-{kind}")
        else:
            print(f"skipped the AMLSim rows: {AMLSIM} is absent", file=sys.stderr)
    eps = {k: v["rows"] / v["seconds"] for k, v in measured.items()}
    rows.append(
        _row(
            "ingest Parquet → lake (validated, normalised, de-duplicated)",
            "events/s/core",
            eps["ours-parquet"],
            eps["peer-pyarrow-parquet"],
            "pyarrow read+write, no validation",
        )
    )
    rows.append(
        _row(
            "ingest NDJSON → lake (validated, normalised, de-duplicated)",
            "events/s/core",
            eps["ours-ndjson"],
            eps["peer-duckdb-ndjson"],
            "DuckDB read_json → Parquet, no validation",
        )
    )
    rows.append(
        _row(
            "ingest NDJSON → lake",
            "events/s/core",
            eps["ours-ndjson"],
            eps["peer-pyarrow-ndjson"],
            "pyarrow.json read+write, no validation",
        )
    )
    rows.append(
        _row(
            f"peak RSS, NDJSON {args.rows:,} rows",
            "MiB",
            measured["ours-ndjson"]["peak_rss_mib"],
            measured["peer-duckdb-ndjson"]["peak_rss_mib"],
            "DuckDB",
        )
    )
    rows.append(
        _row(
            f"peak RSS, NDJSON {args.big_rows:,} rows (memory bounded by batch)",
            "MiB",
            big_nd["peak_rss_mib"],
            measured["ours-ndjson"]["peak_rss_mib"],
            f"ours at {args.rows:,} rows",
        )
    )
    if "ours-amlsim" in eps:
        rows.append(
            _row(
                "ingest AMLSim transfers CSV (117,805 real third-party rows, mapped)",
                "events/s/core",
                eps["ours-amlsim"],
                eps["peer-duckdb-csv"],
                "DuckDB read_csv → Parquet, no validation",
            )
        )
    payload = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "rows": rows,
        "raw": measured | {"big-ours-ndjson": big_nd},
    }
    (RESULTS / "results.json").write_text(json.dumps(payload, indent=2, ensure_ascii=False))
    (RESULTS / "results.md").write_text(markdown(rows))
    print(markdown(rows))


def markdown(rows: list[dict[str, object]]) -> str:
    """The results as a Markdown table."""
    lines = ["| figure | unit | ours | peer | ratio (ours/peer) |", "|---|---|---|---|---|"]
    for r in rows:
        peer = "–" if r["peer"] is None else f"{r['peer']:,} ({r['peer_name']})"
        ratio = "–" if r["ratio"] is None else f"{r['ratio']}"
        lines.append(f"| {r['figure']} | {r['unit']} | {r['ours']:,} | {peer} | {ratio} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
