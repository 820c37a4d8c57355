"""``make bench``: measure ingestion, simulator, intel matching and detection throughput and
memory against peers.

Every measurement runs in its own subprocess on one core (Arrow and DuckDB limited to one
thread; simulator runs, intel runs and their peers also pinned to the same core) so peak RSS
and events/s are per process and per core. Results go to ``bench/results/results.json`` and
``bench/results/results.md``; ``--only PART`` replaces that part's rows and details there and
keeps the others'.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench import detect, funds, generate, intel, ledger, simulate, web
from bench.child import run_child

RESULTS = Path(__file__).parent / "results"
AMLSIM = Path(__file__).resolve().parents[2] / "shared/data/amlsim/20K_cycle200/transactions.csv"


def _run(kind: str, arg: str, workdir: Path) -> dict[str, Any]:
    """``python -m bench.measure KIND ARG WORKDIR`` in its own process; its JSON result."""
    env = {"FANZHA_DATA_DIR": str(workdir)}
    return run_child("bench.measure", kind, arg, str(workdir), env=env)


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


PARTS = ("ingest", "sim", "intel", "detect", "funds", "ledger", "web")
#: the heading that starts each part's details in results.md
DETAILS_HEADINGS = {
    "sim": "### Simulator",
    "intel": "### Intel",
    "detect": "### Detection",
    "funds": "### Funds tracing",
    "ledger": "### Funds at scale",
    "web": "### Web pages",
}


def _part_of(row: dict[str, Any]) -> str:
    """The part a results row belongs to (rows written before parts were tagged: by name)."""
    if "part" in row:
        return str(row["part"])
    figure = str(row["figure"])
    if figure.startswith("simulate"):
        return "sim"
    if figure.startswith("intel"):
        return "intel"
    if figure.startswith("detect"):
        return "detect"
    if figure.startswith("funds ledger"):
        return "ledger"
    if figure.startswith("funds"):
        return "funds"
    if figure.startswith("web"):
        return "web"
    return "ingest"


def _raw_part(key: str) -> str:
    parts = {
        "simulator": "sim",
        "intel": "intel",
        "detect": "detect",
        "funds": "funds",
        "ledger": "ledger",
        "web": "web",
    }
    return parts.get(key, "ingest")


def _details_sections(text: str) -> dict[str, str]:
    """The details sections of an earlier results.md, by part."""
    sections: dict[str, str] = {}
    chunks = text.split("\n### ")
    for chunk in chunks[1:]:
        heading = "### " + chunk
        for part, prefix in DETAILS_HEADINGS.items():
            if heading.startswith(prefix):
                sections[part] = "\n" + heading.rstrip("\n") + "\n"
    return sections


def _merge(
    ran: tuple[str, ...],
    rows: list[dict[str, Any]],
    raw: dict[str, Any],
    details: dict[str, str],
) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, str]]:
    """The results of the parts that ran, with the earlier results of the others."""
    old_json = RESULTS / "results.json"
    old_md = RESULTS / "results.md"
    if not old_json.exists():
        return rows, raw, details
    before = json.loads(old_json.read_text())
    kept_rows = [r for r in before.get("rows", []) if _part_of(r) not in ran]
    kept_raw = {k: v for k, v in before.get("raw", {}).items() if _raw_part(k) not in ran}
    old_details = _details_sections(old_md.read_text()) if old_md.exists() else {}
    kept_details = {p: d for p, d in old_details.items() if p not in ran}
    merged_rows = sorted(kept_rows + rows, key=lambda r: PARTS.index(_part_of(r)))
    merged_details = {p: (details | kept_details)[p] for p in PARTS if p in details | kept_details}
    return merged_rows, kept_raw | raw, merged_details


def main() -> None:
    """Run the benchmarks and write the results."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000, help="calls per input file")
    parser.add_argument("--big-rows", type=int, default=3_000_000, help="rows for the memory check")
    parser.add_argument(
        "--only",
        choices=PARTS,
        help="run one part only (its rows replace that part's in the results; others are kept)",
    )
    parser.add_argument(
        "--intel-domains", type=int, default=10_000_000, help="blocked domains in the intel list"
    )
    parser.add_argument(
        "--intel-queries", type=int, default=2_000_000, help="hosts looked up against the list"
    )
    parser.add_argument(
        "--intel-sample",
        type=int,
        default=200_000,
        help="hosts the (slow) tldextract + set peer looks up, and whose answers are compared",
    )
    parser.add_argument(
        "--city-days",
        type=int,
        nargs=2,
        default=(3, 6),
        metavar=("SHORT", "LONG"),
        help="days of the two city runs (same residents) that show whether memory grows",
    )
    parser.add_argument(
        "--detect-preset",
        choices=("tiny", "demo", "city"),
        default="demo",
        help="simulated preset the detection engine replays from a fresh lake",
    )
    parser.add_argument(
        "--detect-days",
        type=int,
        help="days of the detection preset (city: the first of --city-days unless given)",
    )
    parser.add_argument(
        "--detect-prefix-hours",
        type=float,
        help="hours the (slow) per-event reference replays, beside the engine on the same hours"
        " (default: everything; city: 24; 0: everything)",
    )
    parser.add_argument(
        "--detect-stream-at",
        type=float,
        default=33.0,
        help="hours after the start (in hourly windows) before the 60 s windows of the latency run",
    )
    parser.add_argument(
        "--detect-stream-hours", type=float, default=6.0, help="hours replayed in 60 s windows"
    )
    parser.add_argument(
        "--funds-data",
        type=Path,
        default=Path(os.environ.get("FANZHA_DATA_DIR", "fanzha-data")),
        help="data folder whose lake the funds part reads (default: $FANZHA_DATA_DIR)",
    )
    parser.add_argument(
        "--funds-truth",
        type=Path,
        help="the simulation's truth folder: trace its victims' first payments and score them",
    )
    parser.add_argument("--funds-traces", type=int, default=200, help="traces per policy")
    parser.add_argument(
        "--funds-peer-traces", type=int, default=10, help="traces the reference repeats"
    )
    parser.add_argument(
        "--ledger-transfers", type=int, default=10_000_000, help="synthetic ledger (ledger part)"
    )
    parser.add_argument("--ledger-traces", type=int, default=100, help="victim traces per policy")
    parser.add_argument(
        "--ledger-kuzu-transfers",
        type=int,
        default=1_000_000,
        help="prefix of the ledger the Kuzu peer loads (its queries take minutes beyond)",
    )
    parser.add_argument(
        "--web-requests", type=int, default=200, help="requests per page (web part)"
    )
    parser.add_argument(
        "--web-scale", type=float, default=1.0, help="store size relative to the demo (web part)"
    )
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    raw: dict[str, Any] = {}
    details: dict[str, str] = {}
    ran = (args.only,) if args.only else PARTS
    disagree = detect_differs = funds_differ = False
    with tempfile.TemporaryDirectory(prefix="fanzha-bench-") as tmp:
        base = Path(tmp)
        if "ingest" in ran:
            ingest_rows, ingest_raw = _ingestion(args, base)
            rows += [r | {"part": "ingest"} for r in ingest_rows]
            raw |= ingest_raw
        if "sim" in ran:
            short, long = args.city_days
            bench = simulate.run_all(base / "sim", _run, (short, long))
            rows += [r | {"part": "sim"} for r in _simulator_rows(bench)]
            raw["simulator"] = {
                "peer": simulate.PEER_NAME,
                "tiny_content_sha256": list(bench.tiny_sha256),
                "deterministic": bench.deterministic,
                "same_source": bench.same_source,
                "runs": {c.label: {"ours": c.ours, "peer": c.peer} for c in bench.cases},
            }
            details["sim"] = simulate.markdown(bench)
        if "intel" in ran:
            matching = intel.run_all(
                base / "intel", args.intel_domains, args.intel_queries, args.intel_sample
            )
            rows += [_row(*r) | {"part": "intel"} for r in intel.rows(matching)]
            raw["intel"] = {
                "peer": intel.PEER_NAME,
                "domains": matching.domains,
                "queries": matching.queries,
                "sample": matching.sample,
                "agree": matching.agree,
                "disagreements": matching.disagreements,
                "ours": matching.ours,
                "peer_run": matching.peer,
            }
            details["intel"] = intel.markdown(matching)
            disagree = not matching.agree
        if "detect" in ran:
            found = detect.run_all(
                base / "detect",
                _detect_spec(args),
                _detect_prefix(args),
                args.detect_stream_at,
                args.detect_stream_hours,
            )
            rows += [_row(*r) | {"part": "detect"} for r in detect.rows(found)]
            raw["detect"] = {
                "peer": detect.PEER_NAME,
                "identical": found.identical,
                "ratio": found.ratio,
                "prepared": found.prepared,
                "full": found.full,
                "prefix_hours": found.prefix_hours,
                "engine_prefix": found.engine,
                "reference_prefix": found.reference,
                "stream": found.stream,
                "live": found.live,
                "live_fixed": found.live_fixed,
                "load": found.load,
            }
            details["detect"] = detect.markdown(found)
            detect_differs = not found.identical
        if "funds" in ran and not (args.funds_data / "lake" / "transfer").is_dir():
            print(
                f"skipped the funds part: {args.funds_data} has no lake with transfers"
                " (make demo writes one; or give --funds-data)",
                file=sys.stderr,
            )
        elif "funds" in ran:
            traced = funds.run_all(
                args.funds_data, args.funds_truth, args.funds_traces, args.funds_peer_traces
            )
            rows += [_row(*r) | {"part": "funds"} for r in funds.rows(traced)]
            raw["funds"] = {"peer": funds.PEER_NAME, "data": traced.data} | traced.result
            details["funds"] = funds.markdown(traced)
            funds_differ = not traced.identical
        if "ledger" in ran:
            scale = ledger.run_all(
                args.ledger_transfers, args.ledger_traces, args.ledger_kuzu_transfers
            )
            rows += [_row(*r) | {"part": "ledger"} for r in ledger.rows(scale)]
            raw["ledger"] = {"full": scale.full, "prefix": scale.prefix}
            details["ledger"] = ledger.markdown(scale)
            funds_differ |= not scale.identical
        if "web" in ran:
            pages = web.run_all(args.web_requests, web.Sizes.scaled(args.web_scale))
            rows += [_row(*r) | {"part": "web"} for r in web.rows(pages)]
            raw["web"] = pages.as_dict()
            details["web"] = web.markdown(pages)
    rows, raw, details = _merge(ran, rows, raw, details)
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
    text = markdown(rows) + "".join(details.values())
    (RESULTS / "results.md").write_text(text)
    print(text)
    if disagree:
        raise SystemExit("intel: our answers differ from the peer's (see the details)")
    if detect_differs:
        raise SystemExit("detect: the reference engine's warnings differ from the engine's")
    if funds_differ:
        raise SystemExit("funds: a peer's or the reference's answers differ from ours")


def _detect_spec(args: argparse.Namespace) -> str:
    """``PRESET[:DAYS]`` of the detection part."""
    days = args.detect_days
    if days is None and args.detect_preset == "city":
        days = args.city_days[0]
    return f"{args.detect_preset}:{days}" if days else str(args.detect_preset)


def _detect_prefix(args: argparse.Namespace) -> float | None:
    """Hours the reference replays (None: everything)."""
    hours: float | None = args.detect_prefix_hours
    if hours is None:
        return 24.0 if args.detect_preset == "city" else None
    return hours or None


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


def markdown(rows: list[dict[str, Any]]) -> str:
    """The results as a Markdown table."""
    lines = ["| figure | unit | ours | peer | ratio (ours/peer) |", "|---|---|---|---|---|"]
    for r in rows:
        peer = "–" if r["peer"] is None else f"{r['peer']:,} ({r['peer_name']})"
        ratio = "–" if r["ratio"] is None else f"{r['ratio']}"
        lines.append(f"| {r['figure']} | {r['unit']} | {r['ours']:,} | {peer} | {ratio} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
