"""``make bench``: measure ingestion and simulator throughput and memory against peers.

Every measurement runs in its own subprocess on one core (Arrow and DuckDB limited to one
thread; simulator runs and their peer also pinned to the same core) so peak RSS and events/s
are per process and per core. Results go to ``bench/results/results.json`` and
``bench/results/results.md``; later issues add rows.
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
from typing import Any

from bench import generate, simulate

RESULTS = Path(__file__).parent / "results"
AMLSIM = Path(__file__).resolve().parents[2] / "shared/data/amlsim/20K_cycle200/transactions.csv"


def _run(kind: str, arg: str, workdir: Path) -> dict[str, Any]:
    """``python -m bench.measure KIND ARG WORKDIR`` in its own process; its JSON result."""
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "FANZHA_DATA_DIR": str(workdir),
    }
    out = subprocess.run(
        [sys.executable, "-m", "bench.measure", kind, arg, str(workdir)],
        check=False,
        capture_output=True,
        text=True,
        env=env,
    )
    if out.returncode != 0:
        sys.stderr.write(out.stderr)
        raise SystemExit(f"bench.measure {kind} {arg} failed with exit status {out.returncode}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _one(kind: str, path: Path, workdir: Path) -> dict[str, float]:
    return {k: float(v) for k, v in _run(kind, str(path), workdir).items()}


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
    """Run the benchmarks and write the results."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000, help="calls per input file")
    parser.add_argument("--big-rows", type=int, default=3_000_000, help="rows for the memory check")
    parser.add_argument(
        "--only", choices=("ingest", "sim"), help="run one part only (the results hold that part)"
    )
    parser.add_argument(
        "--city-days",
        type=int,
        nargs=2,
        default=(3, 6),
        metavar=("SHORT", "LONG"),
        help="days of the two city runs (same residents) that show whether memory grows",
    )
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, object]] = []
    raw: dict[str, Any] = {}
    details = ""
    with tempfile.TemporaryDirectory(prefix="fanzha-bench-") as tmp:
        base = Path(tmp)
        if args.only != "sim":
            ingest_rows, ingest_raw = _ingestion(args, base)
            rows += ingest_rows
            raw |= ingest_raw
        if args.only != "ingest":
            short, long = args.city_days
            bench = simulate.run_all(base / "sim", _run, (short, long))
            rows += _simulator_rows(bench)
            raw["simulator"] = {
                "peer": simulate.PEER_NAME,
                "tiny_content_sha256": list(bench.tiny_sha256),
                "deterministic": bench.deterministic,
                "same_source": bench.same_source,
                "runs": {c.label: {"ours": c.ours, "peer": c.peer} for c in bench.cases},
            }
            details = simulate.markdown(bench)
    payload = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "rows": rows,
        "raw": raw,
    }
    (RESULTS / "results.json").write_text(json.dumps(payload, indent=2, ensure_ascii=False))
    (RESULTS / "results.md").write_text(markdown(rows) + details)
    print(markdown(rows) + details)


def _ingestion(
    args: argparse.Namespace, base: Path
) -> tuple[list[dict[str, object]], dict[str, Any]]:
    """Ingestion throughput and memory against DuckDB and pyarrow."""
    rows: list[dict[str, object]] = []
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
    return rows, measured | {"big-ours-ndjson": big_nd}


def _simulator_rows(bench: simulate.SimBench) -> list[dict[str, object]]:
    """Simulator speed and memory beside the raw-rows peer, and the memory-over-days check."""
    rows: list[dict[str, object]] = []
    for c in bench.cases:
        what = f"simulate {c.label} ({c.ours['residents']:,} residents, {c.ours['days']} d)"
        rows.append(
            _row(f"{what} → Parquet", "events/s/core", c.eps, c.peer_eps, simulate.PEER_NAME)
        )
        goal = simulate.GOALS_S.get(c.label)
        if goal is not None:
            rows.append(
                _row(
                    f"{what}: wall time (goal < {goal:g} s)",
                    "s",
                    c.ours["seconds"],
                    c.peer["seconds"],
                    simulate.PEER_NAME,
                )
            )
        rows.append(
            _row(
                f"{what}: peak RSS",
                "MiB",
                c.ours["peak_rss_mib"],
                c.peer["peak_rss_mib"],
                simulate.PEER_NAME,
            )
        )
    short, long = bench.city_days
    s, lg = bench.case(f"city-{short}d").ours, bench.case(f"city-{long}d").ours
    rows.append(
        _row(
            f"simulate city {long} d: peak RSS (flat if one day is held at a time)",
            "MiB",
            lg["peak_rss_mib"],
            s["peak_rss_mib"],
            f"ours at {short} d",
        )
    )
    rows.append(
        _row(
            f"simulate city {long} d: RSS after the last day",
            "MiB",
            lg["rss_after_day_mib"][-1],
            s["rss_after_day_mib"][-1],
            f"ours at {short} d",
        )
    )
    return rows


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
